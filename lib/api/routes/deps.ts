import type { JobService } from "../../jobs/service.ts";
import type { ImageSources } from "../../jobs/sources.ts";
import type { ProviderRegistry } from "../../providers/registry.ts";
import type { ImageStore } from "../../storage/images.ts";

/** What route handlers may use. Grows as capabilities are added; handlers take only this. */
export interface RouteDeps {
  jobs: JobService;
  images: ImageStore;
  registry: ProviderRegistry;
  /** Where input images come from (uploads, URLs, earlier jobs) and where they wait for their job. */
  sources: ImageSources;
  syncWaitMs: number;
}
