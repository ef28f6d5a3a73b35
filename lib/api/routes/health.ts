import type { Route } from "../router.ts";

export const healthRoutes = (): Route[] => [
  {
    method: "GET",
    path: "/health",
    public: true,
    handle: async () => ({ status: 200, body: { status: "ok" } }),
  },
];
