/*
 * The journey editor's flow diagram: selecting a node opens its step in the steps editor.
 *
 * Wagtail's StreamField renders each step in the browser as an element with
 * data-contentpath="<block id>" holding a collapsible panel. Opening a step
 * means: show its tab, expand every collapsed panel around it (outermost
 * first, as an inner one is only laid out once its parent is open) and its
 * own, then scroll to it and move the focus to its header's toggle.
 * No build step: plain browser JavaScript, loaded by FlowPanel's Media.
 */
(() => {
  'use strict';

  const HIGHLIGHT = 'jflow-target';

  const blockFor = (stepId) => {
    const field = document.querySelector('[data-contentpath="steps"]');
    return field
      ? field.querySelector(`[data-contentpath="${CSS.escape(stepId)}"]`)
      : null;
  };

  const showTab = (element) => {
    const panel = element.closest('[role="tabpanel"]');
    if (!panel || !panel.hidden) return;
    const tab = document.getElementById(panel.getAttribute('aria-labelledby'));
    if (tab) tab.click();
  };

  const expand = (toggle) => {
    if (toggle && toggle.getAttribute('aria-expanded') === 'false') toggle.click();
  };

  const expandAround = (element) => {
    const collapsed = [];
    for (let node = element.parentElement; node; node = node.parentElement) {
      if (node.hidden && node.id) {
        const toggle = document.querySelector(
          `[data-panel-toggle][aria-controls="${CSS.escape(node.id)}"]`,
        );
        if (toggle) collapsed.unshift(toggle);
      }
    }
    collapsed.forEach(expand);
    // The step's own panel: its header's toggle comes before any nested step's.
    expand(element.querySelector('[data-panel-toggle]'));
  };

  const open = (stepId) => {
    const element = blockFor(stepId);
    if (!element) return false;
    showTab(element);
    expandAround(element);
    element.classList.add(HIGHLIGHT);
    window.setTimeout(() => element.classList.remove(HIGHLIGHT), 2000);
    element.scrollIntoView({ block: 'start', behavior: 'smooth' });
    const target = element.querySelector('[data-panel-toggle]') || element;
    if (target === element) element.setAttribute('tabindex', '-1');
    target.focus({ preventScroll: true });
    return true;
  };

  document.addEventListener('click', (event) => {
    const link = event.target.closest('[data-flow-step]');
    if (!link || !link.closest('[data-journey-flow]')) return;
    // A step the editor no longer shows (removed, not saved yet): the link's own
    // #:w:contentpath= address is left to do what it can.
    if (open(link.dataset.flowStep)) event.preventDefault();
  });
})();
