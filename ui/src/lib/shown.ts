// Screens are loaded when first opened, so a screen just navigated to may draw its elements a
// few moments later: a command that acts on one (a shortcut, a menu item) waits for it.

/** The first element matching `selector` once it is in the page, or null after `within` ms.
 *  Polls with timers, not animation frames: those stop while the window is hidden. */
export async function shown<T extends Element = HTMLElement>(selector: string, within = 3000): Promise<T | null> {
  const until = Date.now() + within;
  for (;;) {
    const found = document.querySelector<T>(selector);
    if (found || Date.now() >= until) return found;
    await new Promise((r) => setTimeout(r, 16));
  }
}
