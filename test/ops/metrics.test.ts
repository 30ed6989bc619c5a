/**
 * Issue 12, metrics: two servers federate; each one's /metrics (a MongooseIM-style
 * [[listen.http]] with mongoose_prometheus_handler) shows the stanza counters moved by exactly the
 * number of stanzas that crossed, the authentication, the bounce, the connection gauges and the
 * histograms; no label carries a domain name.
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { el, type XmlElement } from "../../core/xml/element.js";
import { eventually } from "../helpers/wait.js";
import { addressLine, reserve, sample, scrape, startOpsNode, type OpsNode } from "./world.js";

const N = 25;

describe("Prometheus metrics of two federating servers", () => {
  let a: OpsNode;
  let b: OpsNode;
  const received: XmlElement[] = [];

  before(async () => {
    const ra = await reserve("127.0.0.121");
    const rb = await reserve("127.0.0.122");
    const policy = `host_policy = [{ host = "denied.example", policy = "deny" }]`;
    // Without XEP-0288: the connection gauges below count one stream per direction.
    const twoStreams = `[plugins.tcp]\nbidi = false\n`;
    b = await startOpsNode({ host: "b.example", ip: rb.ip, metrics: true, s2s: [`use_starttls = "false"`, `address = [${addressLine("a.example", ra)}]`], extra: twoStreams }, rb);
    a = await startOpsNode({ host: "a.example", ip: ra.ip, metrics: true, s2s: [`use_starttls = "false"`, policy, `address = [${addressLine("b.example", rb)}]`], extra: twoStreams }, ra);
    // A's local users are this test: it owns a.example's addresses.
    a.server.stanzas$.subscribe((s) => received.push(s));
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it("serves the text format on the configured path only", async () => {
    const ok = await scrape(a);
    assert.equal(ok.status, 200);
    assert.match(ok.contentType ?? "", /^text\/plain/);
    assert.match(ok.text, /# TYPE xmpp_s2s_stanzas_total counter/);
    assert.match(ok.text, /process_cpu_user_seconds_total/, "prom-client's process metrics");
    assert.equal((await scrape(a, "/other")).status, 404);
  });

  it("counts exactly the stanzas that crossed, in both directions and on both servers", async () => {
    const [beforeA, beforeB] = [(await scrape(a)).text, (await scrape(b)).text];
    const base = (text: string, direction: string) => sample(text, "xmpp_s2s_stanzas_total", { direction }) ?? 0;
    for (let i = 0; i < N; i++) {
      a.server.send(el("message", { from: "alice@a.example/r", to: "echo@b.example", type: "chat", id: `m${i}` }, "jabber:server", el("body", {}, "jabber:server", `n${i}`)));
    }
    await eventually(() => received.filter((s) => s.attr("from") === "echo@b.example").length === N, undefined, `${N} echoes`);
    const [afterA, afterB] = [(await scrape(a)).text, (await scrape(b)).text];
    assert.equal(base(afterA, "outbound") - base(beforeA, "outbound"), N, "A wrote N messages");
    assert.equal(base(afterB, "inbound") - base(beforeB, "inbound"), N, "B received N messages");
    assert.equal(base(afterB, "outbound") - base(beforeB, "outbound"), N, "B wrote N echoes");
    assert.equal(base(afterA, "inbound") - base(beforeA, "inbound"), N, "A received N echoes");

    assert.equal(sample(afterA, "xmpp_s2s_auth_total", { direction: "outbound", method: "dialback", result: "ok" }), 1);
    assert.equal(sample(afterB, "xmpp_s2s_auth_total", { direction: "inbound", method: "dialback", result: "ok" }), 1);
    assert.equal(sample(afterA, "xmpp_s2s_connections", { direction: "outbound", state: "established" }), 1);
    assert.equal(sample(afterA, "xmpp_s2s_connections", { direction: "inbound", state: "established" }), 1, "B's stream carrying the echoes");
    assert.equal(sample(afterA, "xmpp_s2s_connect_seconds_count"), 1);
    assert.ok((sample(afterA, "xmpp_s2s_dns_lookup_seconds_count") ?? 0) >= 1);
    assert.equal(sample(afterA, "xmpp_s2s_queued_stanzas"), 0);
    assert.equal(sample(afterA, "xmpp_s2s_backoff_remotes"), 0);
  });

  it("counts a bounce by its condition", async () => {
    a.server.send(el("message", { from: "alice@a.example/r", to: "bob@denied.example", id: "denied-1" }, "jabber:server"));
    await eventually(() => received.some((s) => s.attr("id") === "denied-1" && s.attr("type") === "error"), undefined, "the bounce");
    assert.equal(sample((await scrape(a)).text, "xmpp_s2s_bounces_total", { condition: "service-unavailable" }), 1);
  });

  it("never puts a domain name in a label", async () => {
    const text = (await scrape(a)).text + (await scrape(b)).text;
    assert.doesNotMatch(text, /\.example/);
  });
});
