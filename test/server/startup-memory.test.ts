/**
 * What start-up loads (docs/performance.md, "Memory"): the built server, started the way operators
 * start it, loads its CommonJS dependencies with `require` (core/cjs/), never through an ES
 * `import` (~6 MiB of resident memory on Node 20 for the first one), and loads neither prom-client
 * nor the HTTP listener nor the admin code when their sections are absent. Memory itself is measured
 * by bench/idle-rss.ts, not here.
 */
import { ensureBuilt } from "../helpers/build.js";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import { freePort } from "../helpers/ports.js";
import { BIN, killChildren, RunningServer } from "../helpers/cli.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const PROBE = join(ROOT, "test/server/fixtures/esm-cjs-probe.mjs");
const IP = "127.0.0.1";

describe("server start-up loads", () => {
  let tmp: string;
  before(() => {
    ensureBuilt();
    tmp = mkdtempSync(join(tmpdir(), "xmpp-s2s-startup-"));
  });
  after(() => {
    killChildren();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("no CommonJS module through an ES import, and no metrics, HTTP or admin code when those sections are absent", async () => {
    const port = await freePort(IP);
    const certs = join(ROOT, "config/examples/certs");
    // STARTTLS with a certificate and the default plugins (SASL EXTERNAL and dialback): a federating server.
    const config = join(tmp, "starttls.toml");
    writeFileSync(config, `[general]\nhosts = ["a.example"]\n\n[[listen.s2s]]\nport = ${port}\nip_address = "${IP}"\n\n[s2s]\nuse_starttls = "required"\ncertfile = "${join(certs, "a.example.pem")}"\nshared = "startup-test"\n`);
    const esmLoads = join(tmp, "esm-loads.txt");
    const requires = join(tmp, "requires.txt");
    const server = new RunningServer(
      spawn(process.execPath, ["--import", PROBE, "--require", join(ROOT, "test/server/fixtures/record-modules.cjs"), BIN, "start", "--config", config], {
        cwd: ROOT,
        env: { ...process.env, XMPP_S2S_ESM_LOADS_FILE: esmLoads, XMPP_S2S_MODULES_FILE: requires },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    await server.waitForLog("started");
    server.child.kill("SIGTERM");
    assert.equal((await server.exit()).code, 0, server.stderr);
    const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);
    const esm = lines(esmLoads).map((l) => ({ format: l.slice(0, l.indexOf(" ")), url: l.slice(l.indexOf(" ") + 1) }));
    // Both recorders must have seen the server's own modules load, or the checks below prove nothing.
    assert.ok(esm.some((m) => m.url.endsWith("/dist/core/server/server.js")), "the ES loader probe saw the server load");
    assert.ok(lines(requires).some((m) => m.includes("/node_modules/tsyringe/")), "the require recorder saw tsyringe load");
    assert.deepEqual(esm.filter((m) => m.format === "commonjs").map((m) => m.url), [], "CommonJS modules loaded through an ES import (load them through core/cjs/ instead)");
    const loaded = [...esm.map((m) => m.url), ...lines(requires)];
    for (const absent of ["/node_modules/prom-client/", "/node_modules/ioredis/", "/dist/core/metrics/metrics.js", "/dist/core/http/http-listeners.js", "/dist/core/admin/admin-server.js"]) {
      assert.ok(!loaded.some((m) => m.includes(absent)), `${absent} was loaded`);
    }
  });
});
