import { useMutation } from "@tanstack/react-query";
import { useState } from "react";

/**
 * A mutation behind a ConfirmDialog: `ask(target)` opens the dialog, Confirm runs the mutation on that
 * target, success closes it, Cancel (or Escape) closes it and forgets the last error.
 * Spread `dialog` into <ConfirmDialog>; `target` is what the dialog is about (null when closed).
 */
export function useConfirmedMutation<T, R>({
  mutationFn,
  onSuccess,
}: {
  mutationFn: (target: T) => Promise<R>;
  /** After the dialog has closed. */
  onSuccess?: (result: R, target: T) => unknown;
}) {
  const [target, setTarget] = useState<T | null>(null);
  const mutation = useMutation({
    mutationFn,
    onSuccess: async (result: R, variables: T) => {
      setTarget(null);
      await onSuccess?.(result, variables);
    },
  });
  return {
    target,
    ask: (value: T) => setTarget(value),
    mutation,
    dialog: {
      open: target !== null,
      busy: mutation.isPending,
      error: mutation.error,
      onCancel: () => {
        setTarget(null);
        mutation.reset();
      },
      onConfirm: () => {
        if (target !== null) mutation.mutate(target);
      },
    },
  };
}
