import { CfnOutput, Duration, type RemovalPolicy } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { CorsHttpMethod, HttpApi, HttpStage, LogGroupLogDestination } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { FunctionUrlAuthType, HttpMethod, InvokeMode } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import type { StackSettings } from "../settings.ts";
import { acknowledge, StackPart } from "./part.ts";
import type { ServiceFunctions } from "./service-function.ts";

export interface ApiProps {
  settings: StackSettings;
  functions: ServiceFunctions;
  /** What a stack deletion does to the access logs. */
  removalPolicy: RemovalPolicy;
}

/**
 * CORS for the API, when `apiCorsOrigins` is set. `*` does not cover Authorization (Fetch), so it is named; the
 * openai SDK also sends its own x-stainless-* headers, which `*` covers.
 */
const apiCorsAllowHeaders = ["authorization", "*"];
/** Response headers a page may read: the job behind a request, and the retry and idempotency answers. */
const apiCorsExposeHeaders = [
  "location",
  "x-job-id",
  "preference-applied",
  "idempotent-replayed",
  "retry-after",
  "x-should-retry",
  "x-request-id",
];

/** The front doors: the API function behind the HTTP API, and the long-wait one behind a Function URL. */
export class Api extends StackPart {
  readonly httpApi: HttpApi;

  constructor(scope: Construct, id: string, { settings: s, functions, removalPolicy }: ApiProps) {
    super(scope, id);
    const api = functions.make(this, "Api");
    if (!api) throw new Error("The API function is required");
    // With functionUrl only (infra/functions.ts).
    const longWait = functions.make(this, "ApiLongWait");
    this.httpApi = new HttpApi(this, "HttpApi", {
      apiName: `image-jobs-${s.stage}`,
      description: "OpenAI-compatible image generation API",
      createDefaultStage: false,
      // Pages on the listed origins may call the API; without the setting, only the API's own (the playground).
      ...(s.apiCorsOrigins && {
        corsPreflight: {
          allowOrigins: s.apiCorsOrigins,
          allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.DELETE, CorsHttpMethod.HEAD],
          allowHeaders: apiCorsAllowHeaders,
          exposeHeaders: apiCorsExposeHeaders,
          maxAge: Duration.hours(1),
        },
      }),
      defaultIntegration: new HttpLambdaIntegration("ApiIntegration", api, { timeout: Duration.seconds(29) }),
    });
    const accessLogs = new LogGroup(this, "ApiAccessLogs", {
      retention: s.logRetentionDays as RetentionDays,
      removalPolicy,
    });
    new HttpStage(this, "DefaultStage", {
      httpApi: this.httpApi,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: s.apiRateLimit, burstLimit: s.apiBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // JSON lines with HTTP API's own variables (the default format names REST API ones).
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            time: "$context.requestTime",
            ip: "$context.identity.sourceIp",
            method: "$context.httpMethod",
            path: "$context.path",
            status: "$context.status",
            bytes: "$context.responseLength",
            latencyMs: "$context.responseLatency",
            integrationLatencyMs: "$context.integrationLatency",
            integrationError: "$context.integrationErrorMessage",
          }),
        ),
      },
    });
    acknowledge(
      this.httpApi,
      "AwsSolutions-APIG4",
      "The API authenticates every request itself: tenant API keys (stored hashed) and the admin key. The " +
        "playground, /openapi.json and /docs are public on purpose.",
    );
    new CfnOutput(this, "ApiUrl", {
      value: `${this.httpApi.apiEndpoint}/v1`,
      description: "Base URL for the openai SDK (baseURL)",
    });
    new CfnOutput(this, "PlaygroundUrl", {
      value: `${this.httpApi.apiEndpoint}/`,
      description: "The web playground: paste a tenant API key",
    });
    // The API authenticates every request itself (API keys), as it does behind API Gateway. It streams its
    // responses (stream: true, job events), which the HTTP API cannot.
    const functionUrl = longWait?.addFunctionUrl({
      authType: FunctionUrlAuthType.NONE,
      invokeMode: InvokeMode.RESPONSE_STREAM,
      ...(s.apiCorsOrigins && {
        cors: {
          allowedOrigins: s.apiCorsOrigins,
          allowedMethods: [HttpMethod.GET, HttpMethod.POST, HttpMethod.DELETE, HttpMethod.HEAD],
          allowedHeaders: apiCorsAllowHeaders,
          exposedHeaders: apiCorsExposeHeaders,
          maxAge: Duration.hours(1),
        },
      }),
    });
    if (functionUrl)
      new CfnOutput(this, "FunctionUrl", {
        value: `${functionUrl.url}v1`,
        description: "Long synchronous waits (Function URL, no API Gateway)",
      });
  }
}
