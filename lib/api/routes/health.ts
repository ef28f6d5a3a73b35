import type { Resource } from "../reference/responses.ts";
import type { Route } from "../router.ts";

export const healthRoutes = (): Route[] => [
  {
    method: "GET",
    path: "/health",
    public: true,
    doc: {
      operationId: "getHealth",
      summary: "Liveness",
      description: "Answers without a key and touches nothing behind the API.",
      tag: "Health",
      responses: { 200: { description: "The API is up.", schema: "Health" } },
    },
    handle: async () => ({ status: 200, body: { status: "ok" } satisfies Resource<"Health"> }),
  },
];
