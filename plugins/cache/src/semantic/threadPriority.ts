/**
 * Lowering the CPU priority of the calling thread, so that embedding
 * workers yield the core to the event loop that serves proxy traffic.
 *
 * Linux schedules each thread on its own, and `setpriority` given a thread
 * id changes that thread only. Node has no call for the id of the current
 * thread, so it is read from `/proc/thread-self`.
 */
import { readlinkSync } from "node:fs"
import { setPriority } from "node:os"

/** Returns the kernel's id of the calling thread, or undefined off Linux. */
export const currentThreadId = (): number | undefined => {
  try {
    // The link reads `<process id>/task/<thread id>`.
    const id = Number(readlinkSync("/proc/thread-self").split("/").pop())
    return Number.isInteger(id) && id > 0 ? id : undefined
  } catch {
    return undefined
  }
}

/**
 * Sets the calling thread's nice value (0 to 19, higher runs less) and
 * returns whether it was applied. It is not applied off Linux, or for 0.
 */
export const lowerThreadPriority = (niceness: number): boolean => {
  if (niceness <= 0) return false
  const thread = currentThreadId()
  if (thread === undefined) return false
  try {
    setPriority(thread, Math.min(19, niceness))
    return true
  } catch {
    return false
  }
}
