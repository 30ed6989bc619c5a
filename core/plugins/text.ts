/**
 * Problem-line helpers for plugins and the plugin loader: the same value rendering and
 * "did you mean" as the config validator, so every problem line reads alike.
 */
export { show as formatValue } from "../config/checks.js";
export { didYouMean as closestMatch } from "../config/did-you-mean.js";
