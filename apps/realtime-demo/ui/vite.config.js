import { defineConfig } from 'vite';

// `npm run build` writes the page into ../web, which Eventide serves at
// /realtime-demo/ (read at start-up: restart the server after a build).
// `npm run dev` serves the page with hot reload and passes the table's
// requests (REST, SSE and WebSocket) to a running server, by default the one
// `make run` starts; EVENTIDE_URL names another.
const server = process.env.EVENTIDE_URL || 'https://localhost:9996';

export default defineConfig({
  base: '/realtime-demo/',
  // React's automatic JSX runtime through Vite's own esbuild: no plugin.
  esbuild: { jsx: 'automatic' },
  build: { outDir: '../web', emptyOutDir: true },
  server: {
    proxy: {
      '^/realtime-demo/message(/|\\?|$)': {
        target: server,
        secure: false, // the self-signed certificate of --tls auto
        changeOrigin: true,
        ws: true,
      },
    },
  },
});
