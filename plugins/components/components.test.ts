/**
 * XEP-0114 components over real sockets on 127.0.0.121-125: the handshake, who may claim which
 * domain, what a component may send, the [[listen.service]] keys, and flow control. Components
 * are a raw socket (exact bytes and stream errors) or @xmpp/component (a standard client).
 */
import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { xml } from "@xmpp/component";
import {
  systemClock,
  configFromObject,
  createLogger,
  el,
  EventBus,
  isConfigError,
  LOCAL_DELIVERY,
  NS,
  type Router,
  ROUTER,
  SERVICE,
  type ServiceListenerConfig,
  STREAM_PARSER_FACTORY,
  type XmlElement,
} from "../../core/index.js";
import { SaxesStreamParserFactory } from "../saxes/saxes-stream-parser.js";
import { connectComponent, type TestComponent } from "../../test/helpers/component.js";
import { freePort } from "../../test/helpers/ports.js";
import { parseStream, RawPeer } from "../../test/helpers/raw-peer.js";
import { reservePorts, startNode, type TestNode } from "../../test/helpers/servers.js";
import { DEADLINE_MS, eventually, waitFor } from "../../test/helpers/wait.js";
import { ComponentStream } from "./component-stream.js";
import plugin from "./index.js";
import { loadPluginsFor } from "../../test/helpers/plugins.js";

const silent = createLogger("silent");

/** Every raw peer a test opened, destroyed after each suite. */
const peers: RawPeer[] = [];
after(() => {
  for (const p of peers) p.destroy();
});

/** A XEP-0114 stream header (no version, content namespace jabber:component:accept). */
function componentHeader(to: string | undefined, contentNs: string = NS.COMPONENT): string {
  return `<?xml version='1.0'?><stream:stream xmlns='${contentNs}' xmlns:stream='${NS.STREAM}'${to === undefined ? "" : ` to='${to}'`}>`;
}

/** XEP-0114 §3: lower-case hex SHA-1 of the stream id followed by the password. */
const handshakeDigest = (id: string, password: string) => createHash("sha1").update(id + password).digest("hex");

/** Connect and send the header; resolves with the stream id the server issued. */
async function openComponentStream(ip: string, port: number, domain: string): Promise<{ peer: RawPeer; id: string }> {
  const peer = await RawPeer.connect(ip, port);
  peers.push(peer);
  peer.write(componentHeader(domain));
  const [, id] = await peer.waitFor(/<stream:stream\b[^>]*\sid='([^']+)'/);
  return { peer, id: id! };
}

/** A raw component that completed the handshake for `domain`. */
async function rawComponent(ip: string, port: number, domain: string, password = "pw"): Promise<RawPeer> {
  const { peer, id } = await openComponentStream(ip, port, domain);
  peer.write(`<handshake>${handshakeDigest(id, password)}</handshake>`);
  await peer.waitFor(/<handshake\s*\/>|<handshake><\/handshake>/);
  return peer;
}

/** The RFC 6120 §4.9.3 condition of the stream error the peer received, if any. */
function streamErrorOf(peer: RawPeer): string | undefined {
  const error = parseStream(peer.text).root?.children.find((c) => c.name === "error" && c.ns === NS.STREAM);
  return error?.children.find((c) => c.ns === NS.STREAM_ERRORS && c.name !== "text")?.name;
}

/** The server closes the stream with `condition` (error, then `</stream:stream>`, then the socket). */
async function expectStreamError(peer: RawPeer, condition: string): Promise<void> {
  await peer.closed();
  assert.equal(streamErrorOf(peer), condition, `received:\n${peer.text}`);
  assert.ok(parseStream(peer.text).ended, "the stream is closed with </stream:stream>");
}

const message = (attrs: Record<string, string>, body = "hi") => `<message${Object.entries(attrs).map(([k, v]) => ` ${k}='${v}'`).join("")}><body>${body}</body></message>`;

async function loadWith(raw: Record<string, unknown>): Promise<readonly string[]> {
  const cfg = configFromObject({ general: { hosts: ["a.example"] }, ...raw }, { baseDir: process.cwd() });
  try {
    await loadPluginsFor(cfg);
  } catch (err) {
    if (isConfigError(err)) return err.problems;
    throw err;
  }
  return [];
}

function configProblems(service: Record<string, unknown>): readonly string[] {
  try {
    configFromObject({ general: { hosts: ["a.example"] }, listen: { service: [service] } }, { baseDir: process.cwd() });
  } catch (err) {
    if (isConfigError(err)) return err.problems;
    throw err;
  }
  return [];
}

describe("components plugin", () => {
  it("rejects bad options: no [plugins.components] options; every [[listen.service]] key is checked with its path", async () => {
    assert.equal(plugin.name, "components");
    assert.equal(plugin.parseOptions, undefined);
    assert.deepEqual(await loadWith({ plugins: { components: { port: 8888 } } }), ["plugins.components.port: unknown option (got 8888, expected no options for this plugin)"]);

    const base = { port: 8888, password: "pw" };
    const bad: Array<[Record<string, unknown>, string, RegExp?]> = [
      [{ password: "pw" }, "listen.service[0].port", /missing/],
      [{ ...base, port: 70000 }, "listen.service[0].port"],
      [{ port: 8888 }, "listen.service[0].password", /missing/],
      [{ ...base, password: "" }, "listen.service[0].password", /empty/],
      [{ ...base, ip_address: "localhost" }, "listen.service[0].ip_address"],
      [{ ...base, max_stanza_size: 0 }, "listen.service[0].max_stanza_size"],
      [{ ...base, negotiation_timeout: "30s" }, "listen.service[0].negotiation_timeout"],
      [{ ...base, idle_timeout: 0 }, "listen.service[0].idle_timeout"],
      [{ ...base, conflict_behaviour: "kick-old" }, "listen.service[0].conflict_behaviour", /did you mean "kick_old"\?/],
      [{ ...base, check_from: "false" }, "listen.service[0].check_from"],
      [{ ...base, tls: { mode: "tls" } }, "listen.service[0].tls", /plain TCP only/],
      [{ ...base, ip_version: 6, ip_address: "127.0.0.1" }, "listen.service[0].ip_version"],
      [{ ...base, proto: "udp" }, "listen.service[0].proto"],
    ];
    for (const [service, path, match] of bad) {
      const problems = configProblems(service);
      const line = problems.find((p) => p.startsWith(`${path}: `));
      assert.ok(line, `${JSON.stringify(service)}: expected a problem at ${path}, got\n${problems.join("\n")}`);
      if (match) assert.match(line, match);
    }
    // Defaults of the keys the plugin reads.
    const defaults = configFromObject({ general: { hosts: ["a.example"] }, listen: { service: [base] } }, { baseDir: process.cwd() }).listen.service[0]!;
    assert.deepEqual(defaults, {
      port: 8888, ipAddress: "0.0.0.0", password: "pw", maxStanzaSize: 65536, negotiationTimeoutMs: 30_000, idleTimeoutMs: 600_000, conflictBehaviour: "disconnect", checkFrom: true,
    });
  });

  it("declares local delivery and a service (one instance for both), and needs the stream parser", async () => {
    assert.deepEqual(plugin.provides, [LOCAL_DELIVERY, SERVICE]);
    assert.deepEqual(plugin.requires, [STREAM_PARSER_FACTORY]);
    const factories: Array<(c: unknown) => unknown> = [];
    await plugin.register({
      config: configFromObject({ general: { hosts: ["a.example"] } }, { baseDir: process.cwd() }),
      options: {},
      logger: silent,
      provide: (_token: unknown, provider: { useFactory: (c: unknown) => unknown }) => void factories.push(provider.useFactory),
    } as never);
    const container = { resolve: (token: unknown) => (token === STREAM_PARSER_FACTORY ? new SaxesStreamParserFactory() : new EventBus()) };
    const [delivery, service] = factories.map((f) => f(container));
    assert.ok(delivery);
    assert.equal(delivery, service);
  });
});

describe("components: handshake, domains and addressing (default listener)", () => {
  const ip = "127.0.0.121";
  let node: TestNode;
  let port: number;

  before(async () => {
    node = await startNode({ hosts: ["a.example"], ip, componentPassword: "pw" });
    port = node.servicePort!;
  });
  after(async () => {
    await node?.stop();
  });

  it("accepts the XEP-0114 handshake and answers with an empty <handshake/>", async () => {
    const connected = waitFor(node.server.events$, (e) => e.type === "component_connected" && e.domain === "raw.a.example");
    const { peer, id } = await openComponentStream(ip, port, "raw.a.example");
    const header = parseStream(peer.text).root!;
    assert.equal(header.ns, NS.STREAM);
    assert.equal(header.attrs.from, "raw.a.example");
    assert.ok(id.length >= 16, "a fresh, long stream id");
    peer.write(`<handshake>${handshakeDigest(id, "pw").toUpperCase()}</handshake>`);
    await peer.waitFor(/<handshake\s*\/>|<handshake><\/handshake>/);
    await connected;
    const gone = waitFor(node.server.events$, (e) => e.type === "component_disconnected" && e.domain === "raw.a.example");
    peer.write("</stream:stream>");
    await gone;
  });

  it("closes the stream with not-authorized on a wrong handshake", async () => {
    const { peer, id } = await openComponentStream(ip, port, "wrong.a.example");
    peer.write(`<handshake>${handshakeDigest(id, "not-the-password")}</handshake>`);
    await expectStreamError(peer, "not-authorized");
  });

  it("closes the stream with not-authorized on a stanza before the handshake", async () => {
    const { peer } = await openComponentStream(ip, port, "early.a.example");
    peer.write(message({ from: "u@early.a.example", to: "echo@a.example" }));
    await expectStreamError(peer, "not-authorized");
  });

  it("refuses a header without 'to' (improper-addressing) or in the wrong namespace (invalid-namespace)", async () => {
    const noTo = await RawPeer.connect(ip, port);
    peers.push(noTo);
    noTo.write(componentHeader(undefined));
    await expectStreamError(noTo, "improper-addressing");
    const client = await RawPeer.connect(ip, port);
    peers.push(client);
    client.write(componentHeader("c.a.example", "jabber:client"));
    await expectStreamError(client, "invalid-namespace");
  });

  it("a component cannot claim a host of general.hosts (conflict), whatever its case", async () => {
    for (const domain of ["a.example", "A.Example"]) {
      const { peer, id } = await openComponentStream(ip, port, domain);
      peer.write(`<handshake>${handshakeDigest(id, "pw")}</handshake>`);
      await expectStreamError(peer, "conflict");
    }
    await assert.rejects(connectComponent(ip, port, "a.example", "pw"));
  });

  it("check_from (default true): a stanza from outside the component's domain closes it with invalid-from", async () => {
    const cases: Array<Record<string, string>> = [{ from: "alice@a.example", to: "echo@a.example" }, { from: "x@other.example", to: "echo@a.example" }, { from: "u@sub.strict.a.example", to: "echo@a.example" }, { to: "echo@a.example" }];
    for (const [i, attrs] of cases.entries()) {
      const peer = await rawComponent(ip, port, "strict.a.example");
      peer.write(message({ ...attrs, id: `s${i}` }));
      await expectStreamError(peer, "invalid-from");
    }
  });

  it("a stanza that is not message, presence or iq closes the stream with unsupported-stanza-type", async () => {
    const peer = await rawComponent(ip, port, "odd.a.example");
    peer.write("<query xmlns='jabber:iq:version'/>");
    await expectStreamError(peer, "unsupported-stanza-type");
  });

  describe("with @xmpp/component", () => {
    let bot: TestComponent | undefined;
    after(async () => {
      await bot?.stop();
    });

    it("receives what is addressed to its domain (here: the echo of echo@a.example)", async () => {
      bot = await connectComponent(ip, port, "bot.a.example", "pw");
      await bot.send(xml("message", { from: "u@bot.a.example/r", to: "echo@a.example", type: "chat", id: "e1" }, xml("body", {}, "ping ✓")));
      const echo = await bot.next((s) => s.attrs.id === "e1");
      assert.equal(echo.attrs.from, "echo@a.example");
      assert.equal(echo.attrs.to, "u@bot.a.example/r");
      assert.equal(echo.getChildText("body"), "ping ✓");
    });

    it("conflict_behaviour = \"disconnect\" (default): a second component for the domain is refused, the first keeps it", async () => {
      assert.ok(bot, "connected by the previous test");
      const second = await openComponentStream(ip, port, "bot.a.example");
      second.peer.write(`<handshake>${handshakeDigest(second.id, "pw")}</handshake>`);
      await expectStreamError(second.peer, "conflict");
      await bot.send(xml("message", { from: "u@bot.a.example", to: "echo@a.example", id: "e2" }, xml("body", {}, "still here")));
      assert.equal((await bot.next((s) => s.attrs.id === "e2")).getChildText("body"), "still here");
    });
  });
});

describe("components: [[listen.service]] options", () => {
  const ip = "127.0.0.122";
  let node: TestNode;
  const port = { checkFromOff: 0, kickOld: 0, negotiation: 0, idle: 0 };

  before(async () => {
    const reserved = await reservePorts(ip);
    port.checkFromOff = reserved.servicePort;
    port.kickOld = await freePort(ip);
    port.negotiation = await freePort(ip);
    port.idle = await freePort(ip);
    node = await startNode(
      {
        hosts: ["b.example"],
        ip,
        listen: {
          service: [
            { port: port.checkFromOff, ip_address: ip, password: "pw", check_from: false },
            { port: port.kickOld, ip_address: ip, password: "pw", conflict_behaviour: "kick_old", max_stanza_size: 1024 },
            { port: port.negotiation, ip_address: ip, password: "pw", negotiation_timeout: 0.3 },
            { port: port.idle, ip_address: ip, password: "pw", idle_timeout: 1 },
          ],
        },
      },
      reserved,
    );
  });
  after(async () => {
    await node?.stop();
  });

  it("check_from = false: a stanza from another (local) domain is accepted and routed", async () => {
    const peer = await rawComponent(ip, port.checkFromOff, "free.b.example");
    // From a host of general.hosts to the component itself: routed back to it.
    peer.write(message({ from: "alice@b.example", to: "loop@free.b.example", id: "cf1" }, "spoken for b.example"));
    await peer.waitFor(/<message[^>]*id='cf1'[^>]*>.*spoken for b\.example/);
    assert.match(peer.text, /<message[^>]*from='alice@b\.example'/);
    assert.equal(peer.isClosed, false);
    assert.equal(streamErrorOf(peer), undefined);
    // A sender is still required.
    const anonymous = await rawComponent(ip, port.checkFromOff, "anon.b.example");
    anonymous.write(message({ to: "echo@b.example", id: "cf2" }));
    await expectStreamError(anonymous, "improper-addressing");
  });

  it("conflict_behaviour = \"kick_old\": the old connection gets conflict, the new one serves the domain", async () => {
    const old = await rawComponent(ip, port.kickOld, "kick.b.example");
    const fresh = await rawComponent(ip, port.kickOld, "kick.b.example");
    await expectStreamError(old, "conflict");
    fresh.write(message({ from: "u@kick.b.example", to: "echo@b.example", id: "k1" }, "after the kick"));
    await fresh.waitFor(/<message[^>]*from='echo@b\.example'[^>]*>.*after the kick/);
    assert.equal(fresh.isClosed, false);
  });

  it("max_stanza_size: a larger stanza closes the component stream with policy-violation", async () => {
    const peer = await rawComponent(ip, port.kickOld, "big.b.example");
    peer.write(message({ from: "u@big.b.example", to: "echo@b.example", id: "big" }, "x".repeat(2000)));
    await expectStreamError(peer, "policy-violation");
  });

  it("negotiation_timeout: no handshake in time closes the stream with connection-timeout", async () => {
    const { peer } = await openComponentStream(ip, port.negotiation, "slow.b.example");
    await expectStreamError(peer, "connection-timeout");
  });

  it("idle_timeout: an authenticated component that sends nothing is closed with connection-timeout", async () => {
    const peer = await rawComponent(ip, port.idle, "quiet.b.example");
    await expectStreamError(peer, "connection-timeout");
  });
});

describe("components: shutdown", () => {
  it("connected components are closed with system-shutdown when the server stops", async () => {
    const node = await startNode({ hosts: ["c.example"], ip: "127.0.0.123", componentPassword: "pw" });
    try {
      const peer = await rawComponent(node.ip, node.servicePort!, "bot.c.example");
      await node.stop();
      await expectStreamError(peer, "system-shutdown");
    } finally {
      await node.stop();
    }
  });
});

describe("components: flow control", () => {
  const ip = "127.0.0.124";
  let server: Server | undefined;
  after(() => {
    server?.close();
  });

  it("stops reading the component socket while the S2S link it feeds is congested, and resumes when it drains", async () => {
    let accept!: (socket: Socket) => void;
    const accepted = new Promise<Socket>((resolve) => (accept = resolve));
    server = createServer((socket) => {
      socket.on("error", () => {});
      accept(socket);
    });
    await new Promise<void>((resolve) => server!.listen(0, ip, resolve));
    const { port } = server.address() as { port: number };

    // A router whose first route() reports a congested outbound stream (Router.route's promise).
    const routed: XmlElement[] = [];
    let drain!: () => void;
    const congested = new Promise<void>((resolve) => (drain = resolve));
    const router: Router = {
      route: (stanza) => (routed.push(stanza), routed.length === 1 ? congested : undefined),
      deliverLocal: () => assert.fail("unused"),
      bounce: () => assert.fail("unused"),
      isLocalDomain: () => true,
    };
    const listener: ServiceListenerConfig = {
      port, ipAddress: ip, password: "pw", maxStanzaSize: 65536, negotiationTimeoutMs: DEADLINE_MS, idleTimeoutMs: Infinity, conflictBehaviour: "disconnect", checkFrom: true,
    };
    const peer = await RawPeer.connect(ip, port);
    peers.push(peer);
    const socket = await accepted;
    new ComponentStream(socket, listener, new SaxesStreamParserFactory(), { claim: () => true, release: () => {} }, () => router, silent, new EventBus(), systemClock);

    peer.write(componentHeader("flow.example"));
    const [, id] = await peer.waitFor(/<stream:stream\b[^>]*\sid='([^']+)'/);
    peer.write(`<handshake>${handshakeDigest(id!, "pw")}</handshake>`);
    await peer.waitFor(/<handshake\s*\/>|<handshake><\/handshake>/);

    peer.write(message({ from: "u@flow.example", to: "x@remote.example", id: "f1" }));
    await eventually(() => routed.length === 1, DEADLINE_MS, "the first stanza to be routed");
    assert.equal(socket.isPaused(), true, "reading stops while the link is congested");
    peer.write(message({ from: "u@flow.example", to: "x@remote.example", id: "f2" }));
    await eventually(() => socket.readableLength > 0, DEADLINE_MS, "the second stanza to wait, unread, in the socket");
    assert.equal(routed.length, 1, "nothing more is routed while paused");

    drain();
    await eventually(() => routed.length === 2, DEADLINE_MS, "the second stanza after the drain");
    assert.equal(routed[1]!.attr("id"), "f2");
    assert.equal(socket.isPaused(), false);
  });

  it("reports a component that does not read as congested (Router.congestion, for the cluster's receiver), until its socket drains", async () => {
    const node = await startNode({ hosts: ["c.example"], ip: "127.0.0.125", componentPassword: "pw" });
    try {
      const slow = await rawComponent(node.ip, node.servicePort!, "slow.c.example");
      slow.socket.pause();
      const router = node.server.container.resolve(ROUTER);
      const body = "x".repeat(4000);
      // Bounded: the kernel's buffers of a paused loopback socket hold a few MB; past them (and
      // 256 KB in the server), the delivery answers with a flow-control promise.
      let pressure: Promise<void> | undefined;
      let sent = 0;
      while (!pressure && sent < 10_000) {
        const stanza = el("message", { from: "u@remote.example", to: "x@slow.c.example", id: `s${sent++}` }, NS.SERVER, el("body", {}, NS.SERVER, body));
        assert.equal(router.deliverLocal(stanza), undefined, "an inbound stream is not paused by a slow component");
        pressure = router.congestion?.(stanza);
        if (sent % 50 === 0) await new Promise((r) => setImmediate(r)); // the stream writes once per tick
      }
      assert.ok(pressure, `no flow-control promise after ${sent} stanzas of 4 KB to a component that reads nothing`);
      let drained = false;
      void pressure.then(() => (drained = true));
      await new Promise((r) => setImmediate(r));
      assert.equal(drained, false, "pending while the component reads nothing");
      slow.socket.resume();
      await eventually(() => drained, DEADLINE_MS, "the promise to settle once the component reads");
      await slow.waitFor(new RegExp(`id='s${sent - 1}'`));
    } finally {
      await node.stop();
    }
  });
});
