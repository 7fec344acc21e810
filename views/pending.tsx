// The pages of the navigation that are not built yet: each says so and where the same is at hand
// today, so that the navigation's links land on a page of the console.
import { Layout } from "./layout";
import type { Shell } from "./shell";

export function PendingPage({ shell, title, instead }: { shell: Shell; title: string; instead: string }) {
  return (
    <Layout shell={shell} title={title}>
      <div class="page-head">
        <h1 safe>{title}</h1>
      </div>
      <div class="panel">
        <p>This page of the console is not built yet.</p>
        <p class="muted" safe>
          {instead}
        </p>
      </div>
    </Layout>
  );
}
