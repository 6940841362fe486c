import * as common from '@nestjs/common';
import { HttpException } from '@nestjs/common';
import { registerError } from '@offthread/core';
import { kHttpChain } from './protocol.js';

type ErrorClass = new (...args: any[]) => Error;

let nestExceptions: Map<string, ErrorClass> | undefined;

/**
 * Nest's own exception classes (`HttpException` and every built-in subclass of this version),
 * registered with the core so they arrive from a thread as instances of their class.
 */
export function registerNestExceptions(extra: readonly ErrorClass[] = []): void {
  if (!nestExceptions) {
    nestExceptions = new Map();
    for (const [name, value] of Object.entries(common)) {
      if (
        typeof value === 'function' &&
        name.endsWith('Exception') &&
        value.prototype instanceof Error
      ) {
        nestExceptions.set(name, value as ErrorClass);
        registerError(value as ErrorClass);
      }
    }
  }
  for (const ErrorClass of extra) registerError(ErrorClass);
}

/**
 * The worker marks every HttpException with the names of its class chain. A subclass the app
 * did not register arrives as a plain Error; give it the prototype of its nearest Nest ancestor
 * so `instanceof HttpException`, `getStatus()` and `getResponse()` behave as if it ran inline.
 */
export function restoreHttpException(error: unknown): unknown {
  if (error === null || typeof error !== 'object' || !(kHttpChain in error)) return error;
  const chain = (error as Record<string, unknown>)[kHttpChain];
  delete (error as Record<string, unknown>)[kHttpChain];
  if (error instanceof HttpException || !Array.isArray(chain)) return error;
  for (const name of chain) {
    const ErrorClass = nestExceptions?.get(String(name));
    if (ErrorClass) {
      const ownName = Object.getOwnPropertyDescriptor(error, 'name');
      Object.setPrototypeOf(error, ErrorClass.prototype);
      if (!ownName)
        Object.defineProperty(error, 'name', {
          value: String(chain[0]),
          writable: true,
          configurable: true,
        });
      break;
    }
  }
  return error;
}
