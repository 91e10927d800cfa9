import { describe, expect, it } from "vitest";
import { shown } from "./shown";

describe("an element a command waits for", () => {
  it("is found at once when it is there", async () => {
    document.body.innerHTML = `<button data-here>here</button>`;
    expect((await shown("[data-here]"))?.textContent).toBe("here");
  });

  it("is found once a screen draws it later", async () => {
    document.body.innerHTML = "";
    setTimeout(() => (document.body.innerHTML = `<button data-later>later</button>`), 50);
    expect((await shown("[data-later]"))?.textContent).toBe("later");
  });

  it("is null when it never comes", async () => {
    document.body.innerHTML = "";
    expect(await shown("[data-never]", 60)).toBeNull();
  });
});
