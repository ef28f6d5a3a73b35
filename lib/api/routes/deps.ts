import type { KeyStore } from "../../auth/keys.ts";
import type { ProviderRegistry } from "../../jobs/registry.ts";
import type { JobService } from "../../jobs/service.ts";
import type { ImageSources } from "../../jobs/sources.ts";
import type { AddressPolicy } from "../../net/outbound.ts";
import type { ImageStore } from "../../storage/images.ts";
import type { UsageLedger } from "../../usage/ledger.ts";
import type { DisabledEndpoints } from "../../webhooks/endpoints.ts";
import type { WebhookSecrets } from "../../webhooks/secrets.ts";
import type { PlaygroundOptions } from "./playground.ts";

/** What route handlers may use. Grows as capabilities are added; handlers take only this. */
export interface RouteDeps {
  jobs: JobService;
  images: ImageStore;
  registry: ProviderRegistry;
  /** Where input images come from (uploads, URLs, earlier jobs) and where they wait for their job. */
  sources: ImageSources;
  syncWaitMs: number;
  /** The sync endpoints' answer when a request names no response_format (DEFAULT_RESPONSE_FORMAT). */
  defaultResponseFormat: "url" | "b64_json";
  webhookSecrets: WebhookSecrets;
  disabledEndpoints: DisabledEndpoints;
  /** Which addresses user-given URLs (webhooks) may point to: ALLOW_PRIVATE_URLS, or a test's predicate. */
  urlPolicy: AddressPolicy;
  keys: KeyStore;
  usage: UsageLedger;
  /** The web playground at `/`; absent, `/` is not served. */
  playground?: PlaygroundOptions;
}
