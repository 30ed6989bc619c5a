import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";
import { NS, serialize, type XmlElement } from "../core/xml/element.js";
import { SaxesStreamParserFactory } from "../plugins/saxes/saxes-stream-parser.js";
import { DEADLINE_MS } from "./wait.js";

export interface ComponentOptions {
  /** Where the server's `[[listen.service]]` listens. */
  readonly host: string;
  readonly port: number;
  /** The domain the component serves, e.g. "bot.a.example". */
  readonly domain: string;
  readonly password: string;
  /** Deadline for the connection and the handshake. */
  readonly ms?: number;
}

/** An XEP-0114 external component connected to a test server: the usual sender and receiver in plugin tests. */
export interface TestComponent {
  readonly domain: string;
  /** Every stanza received so far, in order. */
  readonly received: readonly XmlElement[];
  /**
   * Send a stanza. Elements without a namespace are in the component stream's default namespace
   * (`jabber:component:accept`), so `el("message", { from, to }, undefined, el("body", {}, undefined, "hi"))` is enough.
   */
  send(stanza: XmlElement): void;
  /** The first stanza received (already or later) that matches, or a rejection after `ms`. */
  next(match: (stanza: XmlElement) => boolean, ms?: number): Promise<XmlElement>;
  /** Send a stanza that has an `id`, and wait for the first received stanza with that id: the reply, the echo or the bounce. */
  sendAndWait(stanza: XmlElement, ms?: number): Promise<XmlElement>;
  /** Close the stream and the connection. */
  stop(): Promise<void>;
}

/**
 * Connect and authenticate an external component (XEP-0114 §3: stream header in
 * `jabber:component:accept`, then `<handshake>` = hex SHA-1 of the stream id and the password).
 * Rejects with the server's stream error, or after the deadline.
 */
export function connectComponent(options: ComponentOptions): Promise<TestComponent> {
  const ms = options.ms ?? DEADLINE_MS;
  const received: XmlElement[] = [];
  const waiters = new Set<(stanza: XmlElement) => void>();
  let socket: Socket;
  let closed = false;
  return new Promise<TestComponent>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`component ${options.domain}: not connected to ${options.host}:${options.port} within ${ms} ms`)), ms);
    let ready = false;
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket?.destroy();
      if (!ready) reject(err);
    };
    const parser = new SaxesStreamParserFactory().create(
      {
        onStreamStart: (header) => {
          const id = header.attrs.id ?? "";
          socket.write(`<handshake>${createHash("sha1").update(id + options.password).digest("hex")}</handshake>`);
        },
        onElement: (element) => {
          if (!ready) {
            if (element.name === "handshake") {
              ready = true;
              clearTimeout(timer);
              resolve(component);
            } else fail(new Error(`component ${options.domain}: refused: ${serialize(element, NS.COMPONENT)}`));
            return;
          }
          received.push(element);
          for (const waiter of [...waiters]) waiter(element);
        },
        onStreamEnd: () => socket.end(),
        onError: (condition, text) => fail(new Error(`component ${options.domain}: bad XML from the server (${condition}: ${text})`)),
      },
      { maxStanzaSize: Infinity, maxDepth: 64 },
    );
    socket = connect({ host: options.host, port: options.port });
    socket.on("data", (chunk: Buffer) => parser.write(chunk));
    socket.on("error", (err) => fail(err));
    socket.on("close", () => {
      closed = true;
      parser.close();
      fail(new Error(`component ${options.domain}: connection closed before the handshake`));
    });
    socket.once("connect", () => {
      socket.write(`<?xml version='1.0'?><stream:stream xmlns='${NS.COMPONENT}' xmlns:stream='${NS.STREAM}' to='${options.domain}'>`);
    });

    const component: TestComponent = {
      domain: options.domain,
      received,
      send(stanza) {
        if (closed) throw new Error(`component ${options.domain}: not connected`);
        socket.write(serialize(stanza, NS.COMPONENT));
      },
      next(match, wait = DEADLINE_MS) {
        const found = received.find(match);
        if (found) return Promise.resolve(found);
        return new Promise((ok, ko) => {
          const waiter = (stanza: XmlElement) => {
            if (!match(stanza)) return;
            clearTimeout(deadline);
            waiters.delete(waiter);
            ok(stanza);
          };
          const deadline = setTimeout(() => {
            waiters.delete(waiter);
            ko(new Error(`component ${options.domain}: no matching stanza within ${wait} ms (received ${received.length}: ${received.slice(-3).map((s) => serialize(s, NS.COMPONENT)).join(" ")})`));
          }, wait);
          waiters.add(waiter);
        });
      },
      sendAndWait(stanza, wait) {
        const id = stanza.attr("id");
        if (id === undefined) throw new Error("sendAndWait: the stanza needs an id to match the answer");
        const answer = component.next((s) => s.attr("id") === id, wait);
        component.send(stanza);
        return answer;
      },
      stop() {
        if (closed) return Promise.resolve();
        return new Promise<void>((done) => {
          socket.once("close", () => done());
          socket.end("</stream:stream>");
          // A server that never closes its side must not hold the test: give up on the goodbye.
          setTimeout(() => socket.destroy(), 2000).unref();
        });
      },
    };
  });
}

/** The defined condition of a stanza error (RFC 6120 §8.3.3), e.g. "service-unavailable"; undefined when none. */
export function stanzaErrorCondition(stanza: XmlElement): string | undefined {
  const error = stanza.getChild("error");
  if (!error) return undefined;
  return error.getChildren(undefined, NS.STANZA_ERRORS).find((c) => c.name !== "text")?.name;
}
