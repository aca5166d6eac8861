// Slider tooltip formatters (Dash looks them up by name in window.dccFunctions).
window.dccFunctions = window.dccFunctions || {};
window.dccFunctions.percent = function (value) {
  return (100 * value).toFixed(value * 100 % 1 === 0 ? 0 : 1) + "%";
};

// Story mode: the arrow keys (and PageUp/PageDown, as presentation clickers send) move
// between steps by clicking the Back/Next buttons, unless the user is typing.
document.addEventListener("keydown", function (event) {
  var target = event.target;
  if (event.altKey || event.ctrlKey || event.metaKey ||
      (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)))) {
    return;
  }
  var id = {ArrowRight: "story-next", PageDown: "story-next",
            ArrowLeft: "story-back", PageUp: "story-back"}[event.key];
  var button = id && document.getElementById(id);
  if (button && !button.disabled) {
    event.preventDefault();
    button.click();
  }
});
