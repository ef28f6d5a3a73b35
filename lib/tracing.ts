import type { Tracer } from "@aws-lambda-powertools/tracer";
import type { MiddlewareObj } from "@middy/core";
import type { ServiceConfig } from "./config.ts";

// X-Ray subsegments per AWS call, through Powertools Tracer and the X-Ray SDK: about 125 KiB of bundle and
// 45 ms of cold import. Only functions whose handler passes it in carry it: the queue consumers (worker, DLQ,
// webhooks, inbox), whose cold starts nobody waits on. The API, the one function a user waits on, does without:
// Lambda's active tracing still records each invocation's segment, and the AWS SDK forwards its trace header to
// SQS, so API → queue → worker stays one trace; what the API loses is the per-call breakdown of its few DynamoDB
// and SQS calls.
//
// Loaded only when TRACING is on: the X-Ray SDK's context tracking (cls-hooked) installs an async hook with a
// destroy callback on import, which taxes every promise in the process; the sandbox and tests never pay it.

export interface Tracing {
  tracer: Tracer;
  /** Traces the handler; responses carry presigned URLs and base64 images, so they never go into traces. */
  middleware: MiddlewareObj;
}

/** Undefined unless TRACING is on (in Lambda, with active tracing). */
export async function createTracing(config: ServiceConfig, service: string): Promise<Tracing | undefined> {
  if (!config.TRACING) return undefined;
  const [{ Tracer }, { captureLambdaHandler }] = await Promise.all([
    import("@aws-lambda-powertools/tracer"),
    import("@aws-lambda-powertools/tracer/middleware"),
  ]);
  const tracer = new Tracer({ serviceName: service });
  return { tracer, middleware: captureLambdaHandler(tracer, { captureResponse: false }) };
}
