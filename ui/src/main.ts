import { mount } from "svelte";
import { startMark } from "./lib/startup";
import "./app.css";
import App from "./App.svelte";

startMark("script");
const target = document.getElementById("app");
if (!target) throw new Error("the page has no #app element");
export default mount(App, { target });
