/** The app shell: two views, each loaded when first opened. */
import "./style.css";

// Long main-thread tasks (> 50 ms), from page load on, for the responsiveness test and the curious.
export const longTasks: { start: number; duration: number }[] = [];
try {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: "longtask", buffered: true });
} catch {
  // Browsers without long-task timing simply record nothing.
}

const views = {
  "few-shot": async (root: HTMLElement) => {
    const { mountFewShot } = await import("./few-shot/page.js");
    return mountFewShot(root, `${import.meta.env.BASE_URL}models/omniglot-protonet/model.json`);
  },
  "meta-train": async (root: HTMLElement) => {
    const { mountMetaTrain } = await import("./meta-train/page.js");
    return mountMetaTrain(root);
  },
} as const;
type ViewName = keyof typeof views;

const mounted = new Map<ViewName, Promise<unknown>>();
/** What tests (and curious users in the console) can reach: window.concord. */
const concord: Record<string, unknown> = {
  longTasks,
  /** Each view's API once mounted ("few-shot", "meta-train"). */
  views: {} as Record<string, unknown>,
  view: (name: ViewName) => show(name),
  testHooks: () => import("./test-hooks.js"),
};
(window as unknown as { concord: Record<string, unknown> }).concord = concord;

function show(name: ViewName): Promise<unknown> {
  for (const key of Object.keys(views) as ViewName[]) {
    document.getElementById(`view-${key}`)!.hidden = key !== name;
    document.getElementById(`tab-${key}`)!.classList.toggle("active", key === name);
  }
  let view = mounted.get(name);
  if (!view) {
    view = views[name](document.getElementById(`view-${name}`)!);
    mounted.set(name, view);
    void view.then((api) => {
      (concord.views as Record<string, unknown>)[name] = api;
    });
  }
  return view;
}

const fromHash = (): ViewName => (location.hash === "#meta-train" ? "meta-train" : "few-shot");
window.addEventListener("hashchange", () => void show(fromHash()));
void show(fromHash());
