// citty reads NO_COLOR once, when it is imported: decide before that, so help piped to a file has no ANSI codes.
if (!process.stdout.isTTY) process.env.NO_COLOR ??= "1";
