import "reflect-metadata";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer, TLSSocket, type Server as TlsServer } from "node:tls";
import { readFileSync } from "node:fs";
import {
  CONNECTOR,
  type ConnectRequest,
  type ConnectTarget,
  createLogger,
  ERROR_CODES,
  EventBus,
  isS2sError,
  type S2sEvent,
  type SecureChannel,
  SESSION_SETTINGS,
} from "../../core/index.js";
import { makeCa, makeCertDir, makeLeaf, removeCertDir } from "../../test/helpers/certs.js";
import { startUnansweringAddress, type UnansweringAddress } from "../../test/helpers/dns-server.js";
import plugin from "./index.js";
import { parseTcpOptions, tcpDefaults } from "./options.js";
import { TcpConnector } from "./tcp-connector.js";

it("rejects bad options", () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ queue_limit: 0 }, /^queue_limit: expected a positive integer \(got 0/],
    [{ queue_limit: 2.5 }, /^queue_limit: expected a positive integer/],
    [{ idle_timeout: 0 }, /^idle_timeout: expected a positive number of seconds or "infinity" \(got 0/],
    [{ idle_timeout: "forever" }, /^idle_timeout: expected a positive number of seconds or "infinity"/],
    [{ negotiation_timeout: "infinity" }, /^negotiation_timeout: expected a positive number of seconds \(got "infinity"/],
    [{ initial_retry_delay: 0 }, /^initial_retry_delay: expected a positive number of seconds/],
    [{ initial_retry_delay: -1 }, /^initial_retry_delay: expected a positive number of seconds/],
    [{ hold_window: -0.5 }, /^hold_window: expected a non-negative number of seconds/],
    [{ hold_window: "10" }, /^hold_window: expected a non-negative number of seconds/],
    [{ max_sessions: 0 }, /^max_sessions: expected a positive integer \(got 0/],
    [{ bidi: "yes" }, /^bidi: expected true or false \(got "yes"/],
    [{ retry_delay: 1 }, /^retry_delay: unknown option .*expected one of queue_limit, max_sessions, bidi, idle_timeout, negotiation_timeout, initial_retry_delay, hold_window/],
  ];
  for (const [raw, expected] of bad) {
    const result = parseTcpOptions(raw);
    assert.ok(result.problems, `${JSON.stringify(raw)} should be refused`);
    assert.equal(result.problems.length, 1, JSON.stringify(result.problems));
    assert.match(result.problems[0]!, expected);
  }
  assert.deepEqual(parseTcpOptions({}).options, tcpDefaults());
  assert.deepEqual(parseTcpOptions({ queue_limit: 5, max_sessions: 7, idle_timeout: "infinity", negotiation_timeout: 2.5, initial_retry_delay: 0.25, hold_window: 0, bidi: false }).options, {
    queueLimit: 5,
    maxSessions: 7,
    idleTimeoutMs: Infinity,
    negotiationTimeoutMs: 2500,
    initialRetryDelayMs: 250,
    holdWindowMs: 0,
    bidi: false,
  });
});

it("declares the Connector slot and reads outgoing.connection_timeout and max_retry_delay", () => {
  assert.equal(plugin.name, "tcp");
  assert.deepEqual(plugin.provides, [CONNECTOR, SESSION_SETTINGS]);
  assert.deepEqual(plugin.s2sOptions, ["outgoing.connection_timeout", "max_retry_delay"]);
});

/** A TCP server on loopback that accepts and keeps connections (and never writes). */
async function startSink(host = "127.0.0.1"): Promise<{ server: Server; port: number; sockets: Socket[]; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    s.on("error", () => {});
    sockets.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port with nothing listening (connections are refused at once). */
async function refusedPort(host = "127.0.0.1"): Promise<number> {
  const sink = await startSink(host);
  await sink.close();
  return sink.port;
}

function newConnector(connectionTimeoutMs: number) {
  const events = new EventBus();
  const seen: S2sEvent[] = [];
  events.events$.subscribe((e) => seen.push(e));
  const connector = new TcpConnector(connectionTimeoutMs, events, createLogger("silent"));
  const failures = () => seen.filter((e): e is Extract<S2sEvent, { type: "connect_failed" }> => e.type === "connect_failed");
  return { connector, failures };
}

const noTls = () => Promise.reject(new Error("no TLS in this test"));

function request(targets: ConnectTarget[], extra: Partial<ConnectRequest> = {}): ConnectRequest {
  return { localDomain: "a.example", remoteDomain: "b.example", targets, secure: noTls, ...extra };
}

const v4 = (port: number, host = "127.0.0.1", directTls = false): ConnectTarget => ({ host, port, family: 4, directTls });

describe("TcpConnector over real loopback sockets", () => {
  let sink: Awaited<ReturnType<typeof startSink>>;
  let unanswering: UnansweringAddress;
  let closed: number;

  before(async () => {
    sink = await startSink();
    unanswering = await startUnansweringAddress();
    closed = await refusedPort();
  });

  after(async () => {
    await sink?.close();
    await unanswering?.close();
  });

  it("tries the targets in order and reports each failure with its reason", async () => {
    const { connector, failures } = newConnector(10_000);
    const connection = await connector.connect(request([v4(closed), v4(sink.port)]));
    try {
      assert.equal(connection.target.port, sink.port);
      assert.equal(connection.tls, undefined);
      assert.equal(failures().length, 1);
      assert.equal(failures()[0]!.target, `127.0.0.1:${closed}`);
      assert.match(failures()[0]!.reason, /ECONNREFUSED/);
      assert.equal(failures()[0]!.remote, "b.example");
    } finally {
      connection.socket.destroy();
    }
  });

  it("when every target fails, rejects with CONNECT_FAILED and remote-server-not-found, listing the reasons", async () => {
    const { connector, failures } = newConnector(10_000);
    await assert.rejects(connector.connect(request([v4(closed), v4(closed, "127.0.0.2")])), (err: unknown) => {
      assert.ok(isS2sError(err));
      assert.equal(err.code, ERROR_CODES.CONNECT_FAILED);
      assert.equal(err.condition, "remote-server-not-found");
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED.*; 127\\.0\\.0\\.2:${closed}: .*ECONNREFUSED`));
      return true;
    });
    assert.equal(failures().length, 2);
  });

  it("outgoing.connection_timeout bounds an attempt to an address that never answers, then the next target is tried", async () => {
    const { connector, failures } = newConnector(300);
    const connection = await connector.connect(request([v4(unanswering.port, unanswering.host), v4(sink.port)]));
    try {
      assert.equal(connection.target.port, sink.port);
      assert.deepEqual(failures().map((f) => [f.target, f.reason]), [[`${unanswering.host}:${unanswering.port}`, "no TCP connection within 300 ms"]]);
    } finally {
      connection.socket.destroy();
    }
  });

  it("an abort signal ends the attempts", async () => {
    const { connector } = newConnector(Infinity);
    const controller = new AbortController();
    const pending = connector.connect(request([v4(unanswering.port, unanswering.host)], { signal: controller.signal }));
    controller.abort();
    await assert.rejects(pending, (err: unknown) => isS2sError(err) && /aborted/.test(err.message));
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(connector.connect(request([v4(sink.port)], { signal: aborted.signal })), /aborted/);
  });

  describe("direct TLS targets (XEP-0368)", () => {
    let certDir: string;
    let tlsServer: TlsServer;
    let tlsPort: number;
    let ca: string;

    before(async () => {
      certDir = makeCertDir();
      const authority = makeCa(certDir, "Connector test CA");
      const leaf = makeLeaf(authority, { domains: ["b.example"] });
      ca = readFileSync(leaf.cafile, "utf8");
      tlsServer = createTlsServer({ key: leaf.keyPem, cert: leaf.certPem }, (s) => s.on("error", () => {}));
      tlsServer.on("tlsClientError", () => {});
      await new Promise<void>((resolve) => tlsServer.listen(0, "127.0.0.1", resolve));
      tlsPort = (tlsServer.address() as { port: number }).port;
    });

    after(async () => {
      await new Promise<void>((resolve) => tlsServer?.close(() => resolve()));
      if (certDir) removeCertDir(certDir);
    });

    /** The client side of the handshake, as the TLS slot would run it. */
    const secure = (socket: Socket): Promise<SecureChannel> =>
      new Promise((resolve, reject) => {
        const tls = tlsConnect({ socket, ca, servername: "b.example" });
        tls.on("error", reject);
        tls.once("secureConnect", () => resolve({ socket: tls, chainTrusted: tls.authorized }));
      });

    it("speaks TLS from the first byte and hands back the TLS socket", async () => {
      const { connector } = newConnector(10_000);
      const connection = await connector.connect(request([v4(tlsPort, "127.0.0.1", true)], { secure }));
      try {
        assert.ok(connection.socket instanceof TLSSocket);
        assert.equal(connection.tls?.chainTrusted, true);
        assert.equal(connection.target.directTls, true);
      } finally {
        connection.socket.destroy();
      }
    });

    it("a failed handshake moves on to the next target", async () => {
      const { connector, failures } = newConnector(10_000);
      // The TLS slot refuses the peer (e.g. an untrusted certificate): the connector closes it and goes on.
      const connection = await connector.connect(request([v4(tlsPort, "127.0.0.1", true), v4(sink.port)], { secure: () => Promise.reject(new Error("certificate not trusted")) }));
      try {
        assert.equal(connection.target.port, sink.port);
        assert.deepEqual(failures().map((f) => f.reason), ["direct TLS failed: certificate not trusted"]);
      } finally {
        connection.socket.destroy();
      }
    });

    it("a peer that accepts TCP but never answers TLS counts against connection_timeout", async () => {
      const { connector, failures } = newConnector(300);
      // The sink accepts and never writes: the ClientHello is never answered.
      const connection = await connector.connect(request([v4(sink.port, "127.0.0.1", true), v4(sink.port)], { secure }));
      try {
        assert.equal(connection.target.directTls, false);
        assert.deepEqual(failures().map((f) => f.reason), ["no direct TLS handshake within 300 ms"]);
      } finally {
        connection.socket.destroy();
      }
    });
  });

  describe("happy eyeballs between families", () => {
    let v6: UnansweringAddress | undefined;
    before(async () => {
      v6 = await startUnansweringAddress("::1").catch(() => undefined);
    });
    after(async () => {
      await v6?.close();
    });

    it("races the next family after 250 ms instead of waiting for the connection timeout; the loser is not a failure", async (t) => {
      if (!v6) return t.skip("no IPv6 loopback on this machine");
      const { connector, failures } = newConnector(60_000);
      const connection = await connector.connect(request([{ host: "::1", port: v6.port, family: 6, directTls: false }, v4(sink.port)]));
      try {
        assert.equal(connection.target.family, 4);
        assert.equal(connection.target.port, sink.port);
        // The abandoned IPv6 attempt is settled at once, without a connect_failed event (its timer is gone too).
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(failures(), []);
      } finally {
        connection.socket.destroy();
      }
    });

    it("a refused first family starts the racer at once", async () => {
      const { connector, failures } = newConnector(60_000);
      const closedV6 = await refusedPort("::1").catch(() => undefined);
      if (closedV6 === undefined) return;
      const connection = await connector.connect(request([{ host: "::1", port: closedV6, family: 6, directTls: false }, v4(sink.port)]));
      try {
        assert.equal(connection.target.family, 4);
        assert.equal(failures().length, 1);
        assert.match(failures()[0]!.reason, /ECONNREFUSED/);
      } finally {
        connection.socket.destroy();
      }
    });
  });
});
