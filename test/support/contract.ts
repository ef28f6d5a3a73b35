import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type { JsonSchema, OpenApiDocument } from "../../lib/api/reference/document.ts";
import { apiEvent } from "./lambda.ts";
import { parseSse } from "./openai-schemas.ts";

// Every response the test suites receive, checked against the service's own /openapi.json: its status is one the
// operation documents (errors may fall to `default`), and its JSON body is valid against the documented schema,
// strictly (additionalProperties: false is enforced, formats are checked). A response that breaks the document
// fails the test that received it, so the document cannot drift from what the API sends.

/** What a response broke, with the request that got it. */
export class ContractViolation extends Error {
  override name = "ContractViolation";
}

export interface Exchange {
  method: string;
  /** The request path, without the query. */
  path: string;
  status: number;
  contentType: string | undefined;
  body: string;
}

interface Operation {
  pattern: RegExp;
  method: string;
  responses: Record<string, JsonSchema>;
}

const componentRef = "#/components/schemas/";
const schemaBase = "openapi.json";

/** A document's response contract: which statuses each operation answers, with which bodies. */
export class Contract {
  readonly #ajv = new Ajv2020({ strict: true, allErrors: true });
  readonly #operations: Operation[] = [];
  readonly #errorResponses: Record<string, JsonSchema>;
  /** The router's own 404s and 405s under another service's prefix take that service's error shape. */
  readonly #prefixErrors: { prefix: string; responses: Record<string, JsonSchema> }[] = [];
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #shared: Record<string, JsonSchema>;

  constructor(doc: OpenApiDocument) {
    addFormats.default(this.#ajv);
    // The components as one schema resource, their refs rewritten to its $defs (ajv resolves JSON pointers
    // within a schema, and `components` is no JSON Schema keyword).
    const defs = JSON.parse(
      JSON.stringify(doc.components.schemas).replaceAll(`"${componentRef}`, `"${schemaBase}#/$defs/`),
    ) as JsonSchema;
    this.#ajv.addSchema({ $id: schemaBase, $defs: defs });
    for (const [path, item] of Object.entries(doc.paths)) {
      const pattern = new RegExp(`^${path.replace(/\{\w+\}/g, "[^/]+")}$`);
      for (const [method, op] of Object.entries(item)) {
        this.#operations.push({ pattern, method: method.toUpperCase(), responses: op.responses });
      }
    }
    this.#errorResponses = { default: { $ref: "#/components/responses/Error" } };
    for (const shape of doc["x-error-shapes"] ?? []) {
      const error = { description: "Error", content: { "application/json": { schema: shape.schema } } };
      this.#prefixErrors.push({ prefix: shape.prefix, responses: { default: error } });
    }
    this.#shared = (doc.components.responses ?? {}) as Record<string, JsonSchema>;
  }

  /** What is wrong with the exchange's response, or undefined when the document allows it. */
  problem(x: Exchange): string | undefined {
    const method = x.method.toUpperCase() === "HEAD" ? "GET" : x.method.toUpperCase();
    const onPath = this.#operations.filter((o) => o.pattern.test(x.path));
    const op = onPath.find((o) => o.method === method);
    // Not an operation: the router's own 404 and 405 (in the envelope), or a route the document excludes
    // (the reference, the playground's files), which answers as it likes.
    if (!op && onPath.length === 0 && x.status < 400) return undefined;
    const responses =
      op?.responses ??
      this.#prefixErrors.find((p) => x.path.startsWith(p.prefix))?.responses ??
      this.#errorResponses;
    const declared = responses[String(x.status)];
    if (!declared && x.status < 400) return `status ${x.status} is not documented`;
    const response = this.#resolve(declared ?? responses.default);
    if (!response) return `status ${x.status} is not documented, and there is no default`;
    const content = response.content as Record<string, { schema: JsonSchema }> | undefined;
    const json = content?.["application/json"];
    // HEAD has GET's status and headers, and no body.
    if (x.method.toUpperCase() === "HEAD") return undefined;
    if (x.contentType?.toLowerCase().startsWith("text/event-stream")) return this.#streamProblem(x, content);
    if (!json) return x.body === "" ? undefined : "a body where the document has none";
    if (!x.contentType?.toLowerCase().startsWith("application/json")) {
      return `content-type ${x.contentType ?? "(none)"}, documented as application/json`;
    }
    let body: unknown;
    try {
      body = JSON.parse(x.body);
    } catch {
      return "the body is not JSON";
    }
    const validate = this.#validator(json.schema);
    if (validate(body)) return undefined;
    return `the body breaks ${JSON.stringify(json.schema)}: ${this.#describe(validate)}`;
  }

  /**
   * An event stream: each event's data is valid against the documented stream schema, except `error` events
   * (an error after the stream began), whose data is the error envelope.
   */
  #streamProblem(
    x: Exchange,
    content: Record<string, { schema: JsonSchema }> | undefined,
  ): string | undefined {
    const stream = content?.["text/event-stream"];
    if (!stream) return "an event stream where the document has none";
    for (const frame of parseSse(x.body)) {
      let data: unknown;
      try {
        data = JSON.parse(frame.data);
      } catch {
        return `the ${frame.event ?? "message"} event's data is not JSON`;
      }
      const schema = frame.event === "error" ? { $ref: `${componentRef}Error` } : stream.schema;
      const validate = this.#validator(schema);
      if (!validate(data)) {
        return `the ${frame.event ?? "message"} event breaks ${JSON.stringify(schema)}: ${this.#describe(validate)}`;
      }
    }
    return undefined;
  }

  /** What is wrong with `value` as the document's component schema `name`, or undefined when it is valid. */
  componentProblem(name: string, value: unknown): string | undefined {
    const validate = this.#validator({ $ref: `${componentRef}${name}` });
    if (!validate) throw new Error(`The document has no schema ${name}`);
    return validate(value) ? undefined : this.#describe(validate);
  }

  /** Throws a ContractViolation naming the request, when the response breaks the document. */
  check(x: Exchange): void {
    const problem = this.problem(x);
    if (problem === undefined) return;
    throw new ContractViolation(
      `${x.method} ${x.path} answered ${x.status}, against /openapi.json: ${problem}. Body: ${x.body.slice(0, 600)}`,
    );
  }

  #describe(validate: ValidateFunction): string {
    return (validate.errors ?? [])
      .slice(0, 8)
      .map((e) => `${e.instancePath || "/"} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`)
      .join("; ");
  }

  #resolve(response: JsonSchema | undefined): JsonSchema | undefined {
    const ref = response?.$ref;
    return typeof ref === "string" ? this.#shared[ref.replace("#/components/responses/", "")] : response;
  }

  #validator(schema: JsonSchema): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.#validators.get(key);
    if (!validate) {
      const ref = typeof schema.$ref === "string" ? schema.$ref.replace(componentRef, "") : undefined;
      validate = ref
        ? (this.#ajv.getSchema(`${schemaBase}#/$defs/${ref}`) as ValidateFunction)
        : this.#ajv.compile(schema);
      this.#validators.set(key, validate);
    }
    return validate;
  }
}

/** Compiling a document's schemas takes a moment: services of one test file serve the same document. */
const compiled = new Map<string, Contract>();
function contractOf(documentText: string): Contract {
  let contract = compiled.get(documentText);
  if (!contract) {
    contract = new Contract(JSON.parse(documentText) as OpenApiDocument);
    compiled.set(documentText, contract);
  }
  return contract;
}

const contracts = new Map<string, Promise<Contract>>();

/** The contract of the service at `baseUrl`, read once from its /openapi.json. */
export function contractAt(baseUrl: string): Promise<Contract> {
  let contract = contracts.get(baseUrl);
  if (!contract) {
    contract = fetch(`${baseUrl}/openapi.json`).then(async (res) => {
      if (!res.ok) throw new Error(`${baseUrl}/openapi.json answered ${res.status}`);
      return contractOf(await res.text());
    });
    contracts.set(baseUrl, contract);
    // A service that was down is asked again next time.
    contract.catch(() => contracts.delete(baseUrl));
  }
  return contract;
}

type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * The API handler `api`, with every response it gives checked against the document it serves itself: a response
 * that breaks it rejects with a ContractViolation instead of reaching the test.
 */
export function checkedApi<H extends ApiHandler>(api: H): H {
  let contract: Promise<Contract> | undefined;
  const checked = async (event: APIGatewayProxyEventV2, context: Context) => {
    const result = await api(event, context);
    contract ??= api(apiEvent("GET", "/openapi.json"), context).then((res) => contractOf(res.body ?? ""));
    const headers = result.headers ?? {};
    (await contract).check({
      method: event.requestContext.http.method,
      path: event.rawPath,
      status: result.statusCode ?? 200,
      contentType: headers["content-type"] === undefined ? undefined : String(headers["content-type"]),
      body: result.isBase64Encoded ? "(binary)" : (result.body ?? ""),
    });
    return result;
  };
  return checked as H;
}

/**
 * For a test's HTTP front over a checked handler: a ContractViolation is answered as a 500 that carries it, and
 * raised as an uncaught error too, so the run fails even where the test expected an error status.
 */
export async function answerChecked(
  run: () => Promise<APIGatewayProxyStructuredResultV2>,
): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof ContractViolation)) throw err;
    process.nextTick(() => {
      throw err;
    });
    return {
      statusCode: 500,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        error: { message: err.message, type: "contract_violation", param: null, code: "contract_violation" },
      }),
    };
  }
}
