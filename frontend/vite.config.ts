import { defineConfig } from "vitest/config";

// Django serves the built files under /static/ (whitenoise, STATICFILES_DIRS = frontend/dist) and
// answers every non-API path with dist/index.html, so client-side routes survive a reload.
export default defineConfig(({ command }) => ({
  base: command === "build" ? "/static/" : "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Hashed names: whitenoise may cache them forever.
    assetsDir: "assets",
    rolldownOptions: {
      onwarn(warning, warn) {
        // React Server Components' "use client" markers mean nothing in a client-only bundle.
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
    },
  },
  server: {
    // `npm run dev` next to `make run`: the API stays same-origin through the proxy.
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
}));
