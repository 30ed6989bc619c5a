import { VirtualClock } from "../../core/clock/virtual-clock.js";
import { XmlStream } from "../../core/stream/xml-stream.js";
import { NS } from "../../core/xml/element.js";
import { SaxesStreamParserFactory } from "../../plugins/saxes/saxes-stream-parser.js";
import { socketPair } from "./socket-pair.js";

/**
 * An XmlStream on the server end of a real loopback connection, with handlers that ignore what
 * the peer sends and no idle timeout: for tests of what the stream writes (read on `peer`, or as
 * `text()`). `close` ends both sockets.
 */
export async function writingXmlStream(options: { allowHalfOpen?: boolean } = {}): Promise<{ xml: XmlStream } & Awaited<ReturnType<typeof socketPair>>> {
  const sockets = await socketPair(options);
  const xml = new XmlStream(sockets.server, new SaxesStreamParserFactory(), {
    onHeader: () => {},
    onElement: () => {},
    onStreamEnd: () => {},
    onParseError: () => {},
    onClosed: () => {},
  }, { contentNs: NS.SERVER, limits: { maxStanzaSize: 10_000, maxDepth: 32 }, idleTimeoutMs: Infinity, clock: new VirtualClock() });
  return { xml, ...sockets };
}
