// Herald inbox client as an ES module: `import { connect } from "https://herald.example/sdk/herald.mjs"`.
// The client itself is herald.js (also usable as a classic script); types: herald.d.ts.
import "./herald.js";

const { connect, HeraldError } = globalThis.Herald;
export { connect, HeraldError };
export default globalThis.Herald;
