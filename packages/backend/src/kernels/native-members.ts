/**
 * What each member of a native contract is to the loader: "function" (taken from the addon, called on
 * the wasm heap) or "flag" (a boolean capability). A contract's member list is written against its
 * interface with `satisfies NativeMemberKinds<…>`, so the compiler rejects a list that misses a
 * member, names one the interface lacks, or calls a function a flag.
 */
export type NativeMemberKinds<T> = { readonly [K in keyof T]-?: NonNullable<T[K]> extends (...args: never[]) => unknown ? "function" : "flag" };
