/**
 * Issue 12: `probe` (the engine behind `xmpp-s2s probe` and the admin API's "test federation")
 * against a real Prosody 0.12, through real SRV resolution (the namespace's dnsmasq): it succeeds
 * against P-db from our use_starttls = optional server, and stops at the certificate step against
 * P-other (certificate from a CA we do not trust) from our required_trusted server.
 * Runs inside the interop world (run.ts).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadWorld, startOurs } from "./world.js";

const loaded = loadWorld();

describe("probe against Prosody", { skip: loaded.skip ?? false }, () => {
  it("ours (optional) -> Prosody P-db: every step, SRV found, dialback, ping", async () => {
    const world = loaded.world!;
    const ours = await startOurs(world, "opt");
    try {
      const report = await ours.server.probe(world.prosody.db.domain, undefined, 30_000);
      const dump = JSON.stringify(report, null, 2);
      assert.equal(report.ok, true, dump);
      const step = (name: string) => report.steps.filter((s) => s.step === name);
      assert.match(step("resolve")[0]!.detail, /^DNS .*: \S+ \d+\.\d+\.\d+\.\d+:\d+/, dump);
      assert.equal(step("starttls")[0]?.status, "ok", dump);
      // Prosody's certificate is from the test CA, which this server does not trust: a warning only.
      assert.equal(step("certificate")[0]?.status, "warning", dump);
      assert.equal(step("auth").at(-1)?.detail, "authenticated with dialback", dump);
      assert.equal(step("ping")[0]?.status, "ok", dump);
    } finally {
      await ours.stop();
    }
  });

  it("ours (required_trusted) -> Prosody P-other: fails at the certificate, with the reason", async () => {
    const world = loaded.world!;
    const ours = await startOurs(world, "trustneg");
    try {
      const report = await ours.server.probe(world.prosody.other.domain, undefined, 30_000);
      const dump = JSON.stringify(report, null, 2);
      assert.equal(report.ok, false, dump);
      assert.equal(report.failedStep, "certificate", dump);
      assert.match(report.steps.find((s) => s.step === "certificate")!.detail, /NOT verified for /, dump);
    } finally {
      await ours.stop();
    }
  });
});
