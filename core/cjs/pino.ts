// pino without an ES-module import of a CommonJS package (./require.ts).
import type * as Pino from "pino";
import { requireCjs } from "./require.js";

export const { pino } = requireCjs("pino") as typeof Pino;
