// Slider tooltip formatters (Dash looks them up by name in window.dccFunctions).
window.dccFunctions = window.dccFunctions || {};
window.dccFunctions.percent = function (value) {
  return (100 * value).toFixed(value * 100 % 1 === 0 ? 0 : 1) + "%";
};
