/**
 * The body of `GET /v1/models` in OpenAI's list shape and in Anthropic's
 * paged shape. Both list the models in the order given: the configured
 * models in configuration order, as the plugins' `listModels` hooks left them.
 */
import type { ListedModel } from "@fluxen/sdk"
import { Either } from "effect"

/** Fluxen does not know when a model was released, so both shapes give the Unix epoch. */
const unknownReleaseTime = new Date(0)

/** One model in OpenAI's shape, as `GET /v1/models/{model}` returns it and the list repeats it. */
export const openAIModel = (model: ListedModel) => ({
  id: model.id,
  object: "model",
  created: unknownReleaseTime.getTime() / 1000,
  owned_by: model.provider
})

export const openAIModelList = (models: ReadonlyArray<ListedModel>) => ({
  object: "list",
  data: models.map(openAIModel)
})

/** One model in Anthropic's shape. `display_name` is the public model name. */
export const anthropicModel = (id: string) => ({ type: "model", id, display_name: id, created_at: unknownReleaseTime.toISOString() })

/** Page size and its bounds, as in Anthropic's Models API reference (`limit`: default 20, 1 to 1000). */
const defaultPageSize = 20
const maxPageSize = 1000

/** A query parameter with an invalid value, and the message for the client. */
export interface InvalidModelListParam {
  readonly message: string
}

const invalid = (message: string): Either.Either<never, InvalidModelListParam> => Either.left({ message })

/** Reads a parameter, treating an empty value as absent. */
const optionalParam = (params: URLSearchParams, name: string): string | undefined => {
  const value = params.get(name)
  return value === null || value === "" ? undefined : value
}

const decodePageSize = (params: URLSearchParams): Either.Either<number, InvalidModelListParam> => {
  const text = optionalParam(params, "limit")
  if (text === undefined) return Either.right(defaultPageSize)
  const size = /^\d+$/.test(text) ? Number(text) : Number.NaN
  return size >= 1 && size <= maxPageSize
    ? Either.right(size)
    : invalid(`Invalid 'limit': expected a whole number from 1 to ${maxPageSize}, got ${JSON.stringify(text)}.`)
}

/** Returns the index of the model named by a cursor parameter, or a message when no listed model has that id. */
const cursorIndex = (ids: ReadonlyArray<string>, param: string, id: string): Either.Either<number, InvalidModelListParam> => {
  const index = ids.indexOf(id)
  return index === -1 ? invalid(`Invalid '${param}': no listed model has the id ${JSON.stringify(id)}.`) : Either.right(index)
}

/** The start and end (exclusive) of a page, and whether more models lie beyond it in the direction of paging. */
interface PageBounds {
  readonly start: number
  readonly end: number
  readonly hasMore: boolean
}

const pageBounds = (ids: ReadonlyArray<string>, params: URLSearchParams, size: number): Either.Either<PageBounds, InvalidModelListParam> => {
  const afterId = optionalParam(params, "after_id")
  const beforeId = optionalParam(params, "before_id")
  if (afterId !== undefined && beforeId !== undefined) return invalid("Send 'after_id' or 'before_id', not both.")

  // Paging backwards takes the `size` models just before the cursor.
  if (beforeId !== undefined) {
    return Either.map(cursorIndex(ids, "before_id", beforeId), (end) => {
      const start = Math.max(0, end - size)
      return { start, end, hasMore: start > 0 }
    })
  }

  const first = afterId === undefined ? Either.right(0) : Either.map(cursorIndex(ids, "after_id", afterId), (index) => index + 1)
  return Either.map(first, (start) => {
    const end = Math.min(ids.length, start + size)
    return { start, end, hasMore: end < ids.length }
  })
}

/**
 * Builds one page of Anthropic's `GET /v1/models` response from the
 * `limit`, `after_id` and `before_id` query parameters, or the message of
 * the first invalid one.
 */
export const anthropicModelPage = (models: ReadonlyArray<ListedModel>, params: URLSearchParams) => {
  const ids = models.map((model) => model.id)
  return Either.flatMap(decodePageSize(params), (size) =>
    Either.map(pageBounds(ids, params, size), ({ start, end, hasMore }) => {
      const page = ids.slice(start, end)
      return {
        data: page.map((id) => anthropicModel(id)),
        has_more: hasMore,
        first_id: page[0] ?? null,
        last_id: page.at(-1) ?? null
      }
    })
  )
}
