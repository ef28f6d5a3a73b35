import middy from "@middy/core";
import { executionModeStreamifyResponse } from "@middy/core/StreamifyResponse";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { errorEnvelope } from "../lib/middleware/errors.ts";
import { flushMetrics, logContext, traceHandler } from "../lib/middleware/observability.ts";
import {
  type ApiRuntime,
  type ResponseStreamHandler,
  type StreamedResult,
  startStreamingApi,
} from "../lib/runtime.ts";

// The API behind the Function URL (InvokeMode RESPONSE_STREAM): the same routes and chain as functions/api.ts,
// whose Server-Sent Events (stream: true, GET /v1/jobs/{id}/events) reach the client as they are made. middy's
// streaming execution mode needs the Lambda runtime's `awslambda` global (the sandbox stands in for it).
export const chain = ({ observability, ...runtime }: ApiRuntime<StreamedResult>): ResponseStreamHandler =>
  middy<APIGatewayProxyEventV2, StreamedResult>({ executionMode: executionModeStreamifyResponse })
    .use([traceHandler(observability), logContext(observability), flushMetrics(observability)])
    .use(errorEnvelope(runtime.api))
    .handler(runtime.api.answer) as unknown as ResponseStreamHandler;

export const handler = chain(await startStreamingApi());
