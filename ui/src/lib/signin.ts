// What the sign-in screen says for each way signing in can fail: pure, tested.
import { AppError, message } from "./api";

export function explain(e: unknown): { title: string; text: string } {
  if (e instanceof AppError) {
    switch (e.code) {
      case "wrong_credentials":
        return { title: "Wrong e-mail or password", text: "Check both and try again." };
      case "offline":
        return { title: "The server cannot be reached", text: `${e.message} Check the address under Advanced, or your connection.` };
      case "no_keyring":
        return { title: "No keyring available", text: e.message };
      case "refused":
        return e.detail.api_code === "too_many_attempts"
          ? { title: "Too many attempts", text: `${e.message} Wait a few minutes before trying again.` }
          : { title: "Sign-in refused", text: e.message };
    }
  }
  return { title: "Sign-in failed", text: message(e) };
}
