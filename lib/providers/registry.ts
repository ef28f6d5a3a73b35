import { InvalidRequestError } from "../errors.ts";
import { catalog as builtIn, isShutDown, type ModelSpec, type Operation } from "./catalog.ts";
import type { ImageProvider } from "./types.ts";

export interface ResolvedModel {
  model: ModelSpec;
  provider: ImageProvider;
  /** True when the placeholder answers for a model whose provider is not configured. */
  standIn: boolean;
}

export interface RegistryOptions {
  providers: readonly ImageProvider[];
  /** Answers for models whose own provider is not configured (the offline sandbox). */
  standIn?: ImageProvider | undefined;
  defaultModel?: string | undefined;
  models?: readonly ModelSpec[];
  now?: () => Date;
}

/** Maps a request's `model` to its capabilities and the provider that serves it. */
export class ProviderRegistry {
  readonly #models: Map<string, ModelSpec>;
  readonly #providers: Map<string, ImageProvider>;
  readonly #standIn: ImageProvider | undefined;
  readonly #defaultModel: string;
  readonly #now: () => Date;

  constructor(options: RegistryOptions) {
    this.#models = new Map((options.models ?? builtIn).map((m) => [m.id, m]));
    this.#providers = new Map(options.providers.map((p) => [p.name, p]));
    this.#standIn = options.standIn;
    this.#now = options.now ?? (() => new Date());
    const firstLive = [...this.#models.values()].find((m) => this.#live(m) && this.#providerFor(m));
    const chosen = options.defaultModel ?? firstLive?.id;
    if (!chosen || !this.#models.has(chosen)) {
      throw new Error(`Default model ${chosen ?? "(none)"} is not in the model catalog.`);
    }
    this.#defaultModel = chosen;
  }

  get defaultModel(): string {
    return this.#defaultModel;
  }

  /** `param` names the request field in errors (e.g. `input.model` inside a job). */
  resolve(modelId: string | undefined, operation: Operation, param = "model"): ResolvedModel {
    const id = modelId ?? this.#defaultModel;
    const model = this.#models.get(id);
    if (!model) {
      throw new InvalidRequestError(
        `The model '${id}' does not exist. Available models: ${this.list()
          .map((m) => m.model.id)
          .join(", ")}.`,
        { param, code: "model_not_found" },
      );
    }
    if (!this.#live(model)) {
      throw new InvalidRequestError(
        `The model '${id}' was shut down on ${model.shutdownOn}.${model.replacement ? ` Use '${model.replacement}' instead.` : ""}`,
        { param, code: "model_not_found" },
      );
    }
    if (!model.operations.includes(operation)) {
      throw new InvalidRequestError(`The model '${id}' does not support ${operation}.`, {
        param,
        code: "unsupported_operation",
      });
    }
    const own = this.#providers.get(model.provider);
    const provider = own ?? this.#standIn;
    if (!provider) {
      throw new InvalidRequestError(
        `The model '${id}' needs the ${model.provider} provider, which is not configured.`,
        {
          param: "model",
          code: "model_not_available",
        },
      );
    }
    return { model, provider, standIn: own === undefined };
  }

  /** Live models that some configured provider can serve. */
  list(): ResolvedModel[] {
    return [...this.#models.values()].flatMap((model) => {
      if (!this.#live(model)) return [];
      const own = this.#providers.get(model.provider);
      const provider = own ?? this.#standIn;
      return provider ? [{ model, provider, standIn: own === undefined }] : [];
    });
  }

  #live(model: ModelSpec): boolean {
    return !isShutDown(model, this.#now());
  }

  #providerFor(model: ModelSpec): ImageProvider | undefined {
    return this.#providers.get(model.provider) ?? this.#standIn;
  }
}
