// The same helpers plugin authors get from "xmpp-s2s/testing".
export { DEADLINE_MS, eventually, waitFor } from "../../testing/wait.js";
