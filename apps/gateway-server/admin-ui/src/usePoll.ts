// Run `load` now and every `ms` while the component is shown.
import { useEffect } from "react";

export function usePoll(load: () => unknown, ms = 2000): void {
  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), ms);
    return () => window.clearInterval(timer);
  }, [load, ms]);
}
