// rxjs without an ES-module import of a CommonJS package (./require.ts). Classes are exported as a
// value and a type of the same name, so `new Subject<T>()` and `Subject<T>` both work.
import type * as Rx from "rxjs";
import { requireCjs } from "./require.js";

const rx = requireCjs("rxjs") as typeof Rx;

export const { asyncScheduler, EMPTY, map, of, scan, switchMap, takeUntil, timer } = rx;
export const Subject = rx.Subject;
export type Subject<T> = Rx.Subject<T>;
export const BehaviorSubject = rx.BehaviorSubject;
export type BehaviorSubject<T> = Rx.BehaviorSubject<T>;
export const Observable = rx.Observable;
export type Observable<T> = Rx.Observable<T>;
export const Subscription = rx.Subscription;
export type Subscription = Rx.Subscription;
export const VirtualTimeScheduler = rx.VirtualTimeScheduler;
export type VirtualTimeScheduler = Rx.VirtualTimeScheduler;
