import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// `npm run dev` proxies the API to a local `streamlake serve` (SL_SERVER, default :7878).
const server = process.env.SL_SERVER ?? "http://127.0.0.1:7878";

export default defineConfig({
  plugins: [preact()],
  build: { target: "es2020", sourcemap: false, chunkSizeWarningLimit: 1000 },
  server: { proxy: { "/api": server, "/health": server } },
});
