/**
 * Issue 12: `[[listen.http]]`, `[instrumentation]` and `[admin]` are validated by their own small
 * schemas (core/http/config.ts, core/metrics/config.ts, core/admin/config.ts) with the same
 * problem-line format as every other option.
 */
import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../core/config/load.js";
import { isConfigError } from "../../core/errors.js";

const BASE = `[general]\nhosts = ["a.example"]\n`;
const HTTP = `[[listen.http]]\nport = 9091\nip_address = "127.0.0.1"\n[[listen.http.handlers.mongoose_prometheus_handler]]\nhost = "_"\npath = "/metrics"\n`;

function problems(toml: string): string[] {
  try {
    parseConfig(toml, { baseDir: "/etc/xmpp-s2s" });
  } catch (err) {
    if (isConfigError(err)) return [...err.problems];
    throw err;
  }
  return [];
}

describe("operations config sections", () => {
  it("accepts MongooseIM's metrics listener as written in its docs", () => {
    const config = parseConfig(`${BASE}${HTTP}[instrumentation.prometheus]\n[admin]\nsocket = "run/admin.sock"\n`, { baseDir: "/etc/xmpp-s2s" });
    assert.deepEqual(config.listen.http, [{ port: 9091, ipAddress: "127.0.0.1", prometheus: [{ host: "_", path: "/metrics" }] }]);
    assert.equal(config.instrumentation.prometheus, true);
    assert.deepEqual(config.admin, { socket: "/etc/xmpp-s2s/run/admin.sock", mode: 0o600 });
  });

  it("is off by default", () => {
    const config = parseConfig(BASE, { baseDir: "/tmp" });
    assert.deepEqual(config.listen.http, []);
    assert.equal(config.instrumentation.prometheus, false);
    assert.equal(config.admin, undefined);
  });

  it("rejects bad options with the dotted path", () => {
    const cases: Array<[string, RegExp]> = [
      [`${HTTP}`, /^instrumentation\.prometheus: missing/],
      [`[[listen.http]]\nport = 70000\n[[listen.http.handlers.mongoose_prometheus_handler]]\nhost = "_"\npath = "/m"\n[instrumentation.prometheus]\n`, /^listen\.http\[0\]\.port: /],
      [`[[listen.http]]\nport = 9091\n[instrumentation.prometheus]\n`, /^listen\.http\[0\]\.handlers: /],
      [`[[listen.http]]\nport = 9091\n[[listen.http.handlers.mongoose_graphql_handler]]\nhost = "_"\n[instrumentation.prometheus]\n`, /^listen\.http\[0\]\.handlers\.mongoose_graphql_handler: unknown key .*only mongoose_prometheus_handler/],
      [`[[listen.http]]\nport = 9091\n[[listen.http.handlers.mongoose_prometheus_handler]]\nhost = "_"\npath = "metrics"\n[instrumentation.prometheus]\n`, /^listen\.http\[0\]\.handlers\.mongoose_prometheus_handler\[0\]\.path: not an absolute path/],
      [`[[listen.http]]\nport = 9091\ntls.certfile = "x"\n[[listen.http.handlers.mongoose_prometheus_handler]]\nhost = "_"\npath = "/m"\n[instrumentation.prometheus]\n`, /^listen\.http\[0\]\.tls: unknown key .*reverse proxy/],
      [`[instrumentation.exometer]\n`, /^instrumentation\.exometer: unknown key .*Prometheus only/],
      [`[instrumentation.prometheus]\nport = 1\n`, /^instrumentation\.prometheus\.port: unknown key/],
      [`[admin]\nmode = "0600"\n`, /^admin\.socket: missing/],
      [`[admin]\nsocket = "/run/a.sock"\nmode = 384\n`, /^admin\.mode: not a file mode/],
      [`[admin]\nsockett = "/run/a.sock"\n`, /^admin\.sockett: unknown key .*did you mean "socket"/],
    ];
    for (const [toml, expected] of cases) {
      const found = problems(`${BASE}${toml}`);
      assert.ok(found.some((p) => expected.test(p)), `${JSON.stringify(toml)}: expected ${expected}, got ${JSON.stringify(found)}`);
    }
  });

  it("refuses an HTTP listener on the port of an S2S listener", () => {
    const found = problems(`${BASE}[[listen.s2s]]\nport = 9091\nip_address = "127.0.0.1"\n${HTTP}[instrumentation.prometheus]\n`);
    assert.ok(found.some((p) => /^listen\.http\[0\]\.port: listener address already in use/.test(p)), JSON.stringify(found));
  });
});
