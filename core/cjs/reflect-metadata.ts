/// <reference types="reflect-metadata" />
// The Reflect metadata API that tsyringe's decorators need, installed before tsyringe loads (it
// checks at load time). Loaded with require: see ./require.ts.
import { requireCjs } from "./require.js";

requireCjs("reflect-metadata");
