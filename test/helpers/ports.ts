// The same helper plugin authors get from "xmpp-s2s/testing".
export { freePort } from "../../testing/ports.js";
