import type { KeyStore } from "../../auth/keys.ts";
import type { JobService } from "../../jobs/service.ts";
import type { ProviderRegistry } from "../../providers/registry.ts";
import type { ImageStore } from "../../storage/images.ts";
import type { UsageLedger } from "../../usage/ledger.ts";

/** What route handlers may use. Grows as capabilities are added; handlers take only this. */
export interface RouteDeps {
  jobs: JobService;
  images: ImageStore;
  registry: ProviderRegistry;
  syncWaitMs: number;
  keys: KeyStore;
  usage: UsageLedger;
}
