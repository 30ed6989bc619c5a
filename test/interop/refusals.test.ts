/**
 * The negative cells: no delivery, and the sender gets a bounce, both ways.
 * - ours required_trusted while Prosody (P-other) presents a certificate from another CA;
 * - ours use_starttls = false while Prosody (P-db) requires encryption.
 * Runs inside the interop world (run.ts).
 */
import { refusalCell } from "./world.js";

refusalCell("trustneg", "the peer's certificate is from an untrusted CA");
refusalCell("false", "the peer requires encryption, we offer none");
