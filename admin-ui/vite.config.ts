import { defineConfig } from "vite";

// `npm run dev` serves the console with hot reload and sends everything the server
// answers itself to a `herald serve` on 127.0.0.1:8080 (cookies stay same-origin).
const herald = "http://127.0.0.1:8080";
const serverPaths = ["/v1", "/docs", "/openapi.json", "/metrics", "/sdk", "/demo", "/healthz", "/readyz"];

export default defineConfig({
  server: {
    port: 5173,
    proxy: Object.fromEntries(serverPaths.map((path) => [path, { target: herald, ws: path === "/v1" }])),
  },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 600 },
});
