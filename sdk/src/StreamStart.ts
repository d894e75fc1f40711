/**
 * Reading the start of a stream before the provider call returns.
 *
 * Some upstreams respond to a streamed request with HTTP 200 and report a
 * failure, such as an overloaded model, in the first event. While no event
 * has reached the client, the host can still retry the call or try the next
 * deployment, but only when the provider call itself fails.
 */

/**
 * Reads `events` up to and including the first event for which `isDecisive`
 * returns true (by default the first event), so that a failure reported
 * before it rejects here. Returns the events read followed by the rest. Only
 * the events before the decisive one are held in memory. Calling `return`
 * on the result closes `events`, even before the first event was read from
 * it, so a stream that the host drops unread still releases its connection.
 */
export const readStreamStart = async <A>(
  events: AsyncIterator<A>,
  isDecisive: (event: A) => boolean = () => true
): Promise<AsyncIterableIterator<A>> => {
  const read: Array<A> = []
  for (;;) {
    const next = await events.next()
    if (next.done === true) break
    read.push(next.value)
    if (isDecisive(next.value)) break
  }
  return replayThenContinue(read, events)
}

const replayThenContinue = <A>(read: ReadonlyArray<A>, rest: AsyncIterator<A>): AsyncIterableIterator<A> => {
  let index = 0
  const iterator: AsyncIterableIterator<A> = {
    next: () => (index < read.length ? Promise.resolve({ done: false, value: read[index++]! }) : rest.next()),
    return: async (value?: unknown) => {
      index = read.length
      await rest.return?.()
      return { done: true, value }
    },
    [Symbol.asyncIterator]: () => iterator
  }
  return iterator
}
