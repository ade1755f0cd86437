// Placeholder replaced by the gradient-set work (issue 2): registers Concord's gradient set.
export function registerConcordGradients(): void {}
registerConcordGradients();
