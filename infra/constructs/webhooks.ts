import type { Construct } from "constructs";
import { StackPart } from "./part.ts";
import type { ServiceFunctions } from "./service-function.ts";

export interface WebhooksProps {
  functions: ServiceFunctions;
}

/** Delivers job events to tenants' endpoints from the webhooks queue (the API, the worker and the inbox send). */
export class Webhooks extends StackPart {
  constructor(scope: Construct, id: string, { functions }: WebhooksProps) {
    super(scope, id);
    functions.make(this, "Webhooks");
  }
}
