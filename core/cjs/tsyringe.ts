// tsyringe without an ES-module import of a CommonJS package (./require.ts).
import type * as Tsyringe from "tsyringe";
import "./reflect-metadata.js";
import { requireCjs } from "./require.js";

const tsyringe = requireCjs("tsyringe") as typeof Tsyringe;

export const { container, inject, injectAll, injectable } = tsyringe;
export const Lifecycle = tsyringe.Lifecycle;
export type Lifecycle = Tsyringe.Lifecycle;
