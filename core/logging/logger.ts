import type { InjectionToken } from "tsyringe";
import type { DestinationStream, Logger as PinoLogger, LevelWithSilent } from "pino";
import { pino } from "../cjs/pino.js";

/** Structured logger (pino). Every entry has a `what` drawn from the events vocabulary (core/events/events.ts, docs/operations.md). */
export type Logger = PinoLogger;

export const LOGGER: InjectionToken<Logger> = Symbol.for("xmpp-s2s.Logger");

export function createLogger(level: LevelWithSilent = "info", destination?: DestinationStream): Logger {
  const options = { level, base: { name: "xmpp-s2s" }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}
