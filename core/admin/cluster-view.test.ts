import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ClusterSnapshot } from "../cluster/cluster.js";
import { sessionsTable } from "../cli/admin-verbs.js";
import { withCluster } from "./cluster-view.js";
import type { SessionRow } from "./inspect.js";

const snapshot: ClusterSnapshot = {
  node: "n1",
  nodes: ["n1", "n2"],
  routes: { "bot.a.example": "n2" },
  embedders: { "a.example": ["n2"] },
  served: { "svc.a.example": "component" },
  ownedPairs: ["a.example|b.example"],
  pairs: { "a.example|b.example": { owner: "n1", held: 0 }, "a.example|c.example": { owner: null, held: 3 } },
  connected: true,
  forwarded: 0,
  received: 0,
};

const outbound: SessionRow = {
  direction: "outbound", local: "a.example", remote: "b.example", state: "established", auth: "dialback", tls: null,
  ageSeconds: 1, stanzasIn: null, stanzasOut: 2, queued: 0, backoff: { waiting: false, attempt: 0, retryInSeconds: null },
};

describe("admin sessions view in cluster mode", () => {
  it("says which node owns each pair and serves each route", () => {
    const rows = withCluster([outbound], snapshot);
    const brief = rows.map((r) => [r.direction, r.local, r.remote, r.state, r.node, r.owner, r.queued]);
    assert.deepEqual(brief, [
      ["outbound", "a.example", "b.example", "established", "n1", "n1", 0],
      ["outbound", "a.example", "c.example", "finding owner", "n1", null, 3],
      ["route", "svc.a.example", "", "component", "n1", "n1", 0],
      ["route", "bot.a.example", "", "component", "n1", "n2", 0],
      ["route", "a.example", "", "embedder", "n1", "n2", 0],
    ]);
    const table = sessionsTable(rows);
    assert.match(table, /^DIR\s+LOCAL\s+REMOTE\s+NODE\s+OWNER\s+STATE/);
    assert.match(table, /^out\s+a\.example\s+c\.example\s+n1\s+-\s+finding owner/m);
  });

  it("a single node's table has no cluster columns", () => {
    assert.doesNotMatch(sessionsTable([outbound]), /NODE|OWNER/);
  });
});
