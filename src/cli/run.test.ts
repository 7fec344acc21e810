// How the CLI reports a failure: one line on stderr and an exit code.
import { expect, test } from "bun:test";
import { Conflict, Invalid, NotFound, StorageUnavailable } from "../errors";
import { CliError, describeFailure, UsageError } from "./run";

test("a domain error is one line with its message, exit 1", () => {
  expect(describeFailure(new Invalid("--role", "must be one of owner, admin, member, viewer"))).toEqual({
    line: "error: --role: must be one of owner, admin, member, viewer",
    exitCode: 1,
  });
  expect(describeFailure(new NotFound("tenant"))).toEqual({ line: "error: tenant not found", exitCode: 1 });
  expect(describeFailure(new Conflict("a user with email a@example.com already exists")).exitCode).toBe(1);
  expect(describeFailure(new StorageUnavailable("the disk is full")).line).toBe("error: not stored: the disk is full; try again later");
});

test("wrong usage is exit 2 and points at --help; a failure the command explained keeps its exit code", () => {
  expect(describeFailure(new UsageError("missing --email"))).toEqual({ line: "error: missing --email (see --help)", exitCode: 2 });
  expect(describeFailure(new CliError("job is down", 3))).toEqual({ line: "error: job is down", exitCode: 3 });
});

test("only the first line of a message is shown", () => {
  expect(describeFailure(new Error("boom\n    at somewhere (file.ts:1:1)")).line).toBe("error: boom");
});
