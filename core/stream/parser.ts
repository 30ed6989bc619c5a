import type { InjectionToken } from "tsyringe";
import type { XmlElement } from "../xml/element.js";

/** The opening `<stream:stream>` tag as parsed (RFC 6120 §4.7). */
export interface StreamHeader {
  /** Local name of the root element ("stream" when well-formed). */
  readonly name: string;
  /** Resolved namespace of the root element (must be http://etherx.jabber.org/streams). */
  readonly ns: string;
  /** Attributes without namespace declarations (`to`, `from`, `id`, `version`, `xml:lang`). */
  readonly attrs: Readonly<Record<string, string>>;
  /** Default namespace declared on the header (`jabber:server`, `jabber:component:accept`). */
  readonly defaultNs?: string;
  /** Prefix -> namespace declarations on the header (e.g. `db` -> `jabber:server:dialback`). */
  readonly prefixes: Readonly<Record<string, string>>;
}

/** Stream-level error conditions a parser can report (RFC 6120 §4.9.3). */
export type ParserErrorCondition = "not-well-formed" | "restricted-xml" | "policy-violation" | "invalid-xml" | "unsupported-encoding" | "internal-server-error";

export interface StreamParserHandlers {
  onStreamStart(header: StreamHeader): void;
  /** Each complete child of the stream root (depth 1): stanzas, features, dialback, TLS, SASL. */
  onElement(element: XmlElement): void;
  /** `</stream:stream>` received. */
  onStreamEnd(): void;
  /** Fatal: after this, the parser ignores further input. `text` is for logs and the stream error text. */
  onError(condition: ParserErrorCondition, text: string): void;
}

export interface StreamParserLimits {
  /** Largest top-level element in bytes; Infinity for no limit. Exceeding it -> policy-violation. */
  readonly maxStanzaSize: number;
  /** Deepest element nesting below the stream root; exceeding it -> policy-violation. */
  readonly maxDepth: number;
}

export interface StreamParser {
  write(chunk: Buffer | string): void;
  /** Releases buffers; no handler is called afterwards. */
  close(): void;
}

/** The Stream slot: makes one parser per stream (and a fresh one after each stream restart). */
export interface StreamParserFactory {
  create(handlers: StreamParserHandlers, limits: StreamParserLimits): StreamParser;
}

export const STREAM_PARSER_FACTORY: InjectionToken<StreamParserFactory> = Symbol.for("xmpp-s2s.StreamParserFactory");

/** 32 levels below a stanza is far beyond any XEP payload in use, and bounds the parser's stack. */
export const DEFAULT_MAX_DEPTH = 32;
