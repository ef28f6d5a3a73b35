import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { errorEnvelope } from "../lib/middleware/errors.ts";
import { flushMetrics, logContext, traceHandler } from "../lib/middleware/observability.ts";
import { type ApiRuntime, startApi } from "../lib/runtime.ts";

/** The API behind the HTTP API, made from any runtime: Lambda's below, the sandbox's and tests' the same way. */
export const chain = ({ observability, ...runtime }: ApiRuntime<APIGatewayProxyStructuredResultV2>) =>
  middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use([traceHandler(observability), logContext(observability), flushMetrics(observability)])
    // Last, so its onError runs first: any error becomes the API's error shape, logged, before metrics flush.
    .use(errorEnvelope(runtime.api))
    .handler(runtime.api.answer);

// Cold start (lib/runtime/api.ts): the configuration, the admin key from Secrets Manager, clients made once.
export const handler = chain(await startApi());
